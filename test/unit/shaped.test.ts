import { describe, expect, it } from '@jest/globals';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type QueryResult,
} from 'kysely';

import type { Database } from '../../src/db/database.js';
import { runShaped } from '../../src/db/shaped.js';

/** A Kysely that compiles for PostgreSQL and records every statement it is asked to run. */
function recordingDb() {
  const ran: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
      ran.push(query);
      return Promise.resolve({ rows: [] });
    },
    streamQuery: () => {
      throw new Error('not used');
    },
  };
  class RecordingDriver extends DummyDriver {
    override acquireConnection(): Promise<DatabaseConnection> {
      return Promise.resolve(connection);
    }
  }
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new RecordingDriver(),
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return { db, ran };
}

describe('runShaped', () => {
  it('builds a shape once and afterwards binds each call its own values, in their places', async () => {
    const { db, ran } = recordingDb();
    let builds = 0;
    const page = (limit: number, title: string | undefined) =>
      runShaped(db, 'test.page', { limit, title }, (v) => {
        builds += 1;
        let query = db.selectFrom('products').select('id').where('status', '=', 'ACTIVE');
        if (v.title !== undefined) query = query.where('title', '=', v.title);
        return query.limit(v.limit);
      });
    await page(11, 'lamp');
    const buildsForFirst = builds;
    await page(21, 'desk');
    expect(ran[0]?.sql).toBe(ran[1]?.sql);
    expect(ran[0]?.parameters).toEqual(['ACTIVE', 'lamp', 11]);
    expect(ran[1]?.parameters).toEqual(['ACTIVE', 'desk', 21]);
    // Under NODE_ENV=test each call is also checked against a direct build: one more build per call, never a second compile of the shape.
    expect(builds - buildsForFirst).toBe(1);
  });

  it('treats which values are present as part of the shape', async () => {
    const { db, ran } = recordingDb();
    const page = (title: string | undefined) =>
      runShaped(db, 'test.presence', { title }, (v) => {
        const query = db.selectFrom('products').select('id');
        return v.title === undefined ? query : query.where('title', '=', v.title);
      });
    await page('lamp');
    await page(undefined);
    await page('desk');
    expect(ran.map((query) => query.parameters)).toEqual([['lamp'], [], ['desk']]);
    expect(ran[1]?.sql).not.toContain('"title" =');
  });

  it('refuses a value used as a number or in text while building', async () => {
    const { db } = recordingDb();
    await expect(runShaped(db, 'test.arithmetic', { limit: 10 }, (v) => db.selectFrom('products').select('id').limit(v.limit + 1))).rejects.toThrow(
      /"limit" was used as text or number/,
    );
    await expect(
      runShaped(db, 'test.text', { column: 'title' }, (v) => db.selectFrom('products').select('id').where(sql.ref(`${v.column}`), '=', 'x')),
    ).rejects.toThrow(/"column" was used as text or number/);
  });

  it('refuses a value the build branches on instead of binding it', async () => {
    const { db } = recordingDb();
    await expect(
      runShaped(db, 'test.branch', { admin: true }, (v) => db.selectFrom('products').select('id').where('status', '=', v.admin ? 'DRAFT' : 'ACTIVE')),
    ).rejects.toThrow(/"admin" is not a parameter/);
  });

  it('catches, under test, a shape key that leaves out something the statement depends on', async () => {
    const { db } = recordingDb();
    const byStatus = (status: 'ACTIVE' | 'DRAFT', limit: number) =>
      // The status decides the statement but is neither a value nor in the shape key: a bug.
      runShaped(db, 'test.incomplete', { limit }, (v) => db.selectFrom('products').select('id').where('status', '=', status).limit(v.limit));
    await byStatus('ACTIVE', 5);
    await expect(byStatus('DRAFT', 5)).rejects.toThrow(/gave another statement than the values do/);
  });
});
