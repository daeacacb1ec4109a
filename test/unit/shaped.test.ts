import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { projectRoot } from '../../src/util/project-root.js';
import { shapedStatement } from '../../src/db/shaped.js';
import { recordingDb } from '../helpers/recording-db.js';

/** Statements of these tests, defined once at module level as the contract asks. */
let builds = 0;
const titledPage = shapedStatement('test.page', (db, _shape: null, v: { limit: number; title: string | undefined }) => {
  builds += 1;
  let query = db.selectFrom('products').select('id').where('status', '=', 'ACTIVE');
  if (v.title !== undefined) query = query.where('title', '=', v.title);
  return query.limit(v.limit);
});
const byTitle = shapedStatement('test.presence', (db, _shape: null, v: { title: string | undefined }) => {
  const query = db.selectFrom('products').select('id');
  return v.title === undefined ? query : query.where('title', '=', v.title);
});
const byCurrency = shapedStatement('test.currency', (db, shape: { currency: string }, v: { limit: number }) =>
  db.selectFrom('products').select('id').where('currency', '=', shape.currency).limit(v.limit),
);

describe('shapedStatement', () => {
  it('builds a shape once and afterwards binds each call its own values, in their places', async () => {
    const { db, ran } = recordingDb();
    await titledPage(db, null, { limit: 11, title: 'lamp' });
    const buildsForFirst = builds;
    await titledPage(db, null, { limit: 21, title: 'desk' });
    expect(ran[0]?.sql).toBe(ran[1]?.sql);
    expect(ran[0]?.parameters).toEqual(['ACTIVE', 'lamp', 11]);
    expect(ran[1]?.parameters).toEqual(['ACTIVE', 'desk', 21]);
    // Under NODE_ENV=test each call is also checked against a direct build: one more build per call, never a second compile of the shape.
    expect(builds - buildsForFirst).toBe(1);
  });

  it('treats which values are present as part of the shape', async () => {
    const { db, ran } = recordingDb();
    await byTitle(db, null, { title: 'lamp' });
    await byTitle(db, null, { title: undefined });
    await byTitle(db, null, { title: 'desk' });
    expect(ran.map((query) => query.parameters)).toEqual([['lamp'], [], ['desk']]);
    expect(ran[1]?.sql).not.toContain('"title" =');
  });

  it('compiles each shape on its own: what the build reads from the shape is the call\'s', async () => {
    const { db, ran } = recordingDb();
    await byCurrency(db, { currency: 'EUR' }, { limit: 5 });
    await byCurrency(db, { currency: 'USD' }, { limit: 5 });
    await byCurrency(db, { currency: 'EUR' }, { limit: 7 });
    expect(ran.map((query) => query.parameters)).toEqual([
      ['EUR', 5],
      ['USD', 5],
      ['EUR', 7],
    ]);
  });

  it('gives the build the shape as the cache key holds it, so it cannot branch on what the key leaves out', async () => {
    const { db } = recordingDb();
    let seen: unknown;
    const statement = shapedStatement('test.key-copy', (db, shape: { currency: string }, v: { limit: number }) => {
      seen = shape;
      return db.selectFrom('products').select('id').limit(v.limit);
    });
    // A field JSON drops (a function) never reaches the build.
    const shape = Object.assign({ currency: 'EUR' }, { pick: () => 'USD' });
    await statement(db, shape, { limit: 1 });
    expect(seen).toEqual({ currency: 'EUR' });
    expect(seen).not.toBe(shape);
  });

  it('refuses a value used as a number or in text while building', async () => {
    const { db } = recordingDb();
    const arithmetic = shapedStatement('test.arithmetic', (db, _shape: null, v: { limit: number }) => db.selectFrom('products').select('id').limit(v.limit + 1));
    await expect(arithmetic(db, null, { limit: 10 })).rejects.toThrow(/"limit" was used as text or number/);
    const text = shapedStatement('test.text', (db, _shape: null, v: { column: string }) =>
      db.selectFrom('products').select('id').where(sql.ref(`${v.column}`), '=', 'x'),
    );
    await expect(text(db, null, { column: 'title' })).rejects.toThrow(/"column" was used as text or number/);
  });

  it('refuses a value the build branches on instead of binding it', async () => {
    const { db } = recordingDb();
    const branch = shapedStatement('test.branch', (db, _shape: null, v: { admin: boolean }) =>
      db.selectFrom('products').select('id').where('status', '=', v.admin ? 'DRAFT' : 'ACTIVE'),
    );
    await expect(branch(db, null, { admin: true })).rejects.toThrow(/"admin" is not a parameter/);
  });

  it('catches, under test, a build that reads module state the shape does not hold', async () => {
    const { db } = recordingDb();
    // Module-level state read by a build is the one way left to vary a statement outside its shape;
    // every statement in src reads none (next test), and under test each call is checked against a direct build.
    const state = { status: 'ACTIVE' as 'ACTIVE' | 'DRAFT' };
    const byState = shapedStatement('test.incomplete', (db, _shape: null, v: { limit: number }) =>
      db.selectFrom('products').select('id').where('status', '=', state.status).limit(v.limit),
    );
    await byState(db, null, { limit: 5 });
    state.status = 'DRAFT';
    await expect(byState(db, null, { limit: 5 })).rejects.toThrow(/gave another statement for shape null than the values do/);
  });

  it('is defined only at module level in src, where no request\'s value is in scope', () => {
    const root = path.join(projectRoot(), 'src');
    const misplaced: string[] = [];
    let definitions = 0;
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || path.join(entry.parentPath, entry.name) === path.join(root, 'db', 'shaped.ts')) continue;
      const file = path.join(entry.parentPath, entry.name);
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          if (!/\bshapedStatement\s*\(/.test(line)) return;
          definitions += 1;
          if (!/^(export )?const \w+ = shapedStatement\(/.test(line)) misplaced.push(`${path.relative(projectRoot(), file)}:${index + 1}`);
        });
    }
    expect(definitions).toBeGreaterThanOrEqual(2);
    expect(misplaced).toEqual([]);
  });
});
