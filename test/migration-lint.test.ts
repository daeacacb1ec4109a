/**
 * The migration lint (src/db/migration-lint.ts): the registered migrations
 * captured on a scratch database of the test server, plus one deliberately
 * unsafe migration, linted by squawk against the exceptions.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql, type Kysely } from 'kysely';

import { migrations } from '../migrations/index.js';
import { SQUAWK_EXCEPTIONS } from '../migrations/squawk-exceptions.js';
import { captureMigrationSql, inlineParameters, lintCapturedMigrations, type CapturedMigration } from '../src/db/migration-lint.js';

const UNSAFE = '2099_01_01_0001_unsafe_orders_change';
let captured: CapturedMigration[];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'miglint-test-'));
  const unsafe = {
    up: async (db: Kysely<unknown>) => {
      // Each is fine on an empty table and an outage on a busy one.
      await sql`CREATE INDEX orders_status_idx ON orders (status)`.execute(db);
      await sql`ALTER TABLE orders ADD COLUMN tracking_id uuid NOT NULL DEFAULT gen_random_uuid()`.execute(db);
      await sql`ALTER TABLE orders RENAME COLUMN total_amount TO total`.execute(db);
    },
  };
  captured = await captureMigrationSql(process.env['TEST_PG_URL']!, { ...migrations, [UNSAFE]: unsafe });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the migration lint', () => {
  test('fails an unsafe migration (a plain index on orders, a NOT NULL column with a volatile default, a column rename) with one finding each, and passes every registered migration', async () => {
    const report = await lintCapturedMigrations(captured, dir);

    expect(report.failures.map((f) => [f.migration, f.rule, f.statement])).toEqual([
      [UNSAFE, 'require-concurrent-index-creation', 'CREATE INDEX orders_status_idx ON orders (status)'],
      [UNSAFE, 'adding-field-with-default', 'ALTER TABLE orders ADD COLUMN tracking_id uuid NOT NULL DEFAULT gen_random_uuid()'],
      [UNSAFE, 'renaming-column', 'ALTER TABLE orders RENAME COLUMN total_amount TO total'],
    ]);
    expect(report.unusedExceptions).toEqual([]);
    expect(report.skipped).toEqual(['2026_12_07_0011_job_queue']);
    expect(report.files).toBe(Object.keys(migrations).length); // the registered ones but the job queue's, plus the unsafe one
  });

  test("writes each migration's SQL as it runs: the runner's timeouts first, in a transaction unless the migration opts out", async () => {
    await lintCapturedMigrations(captured, dir);
    const text = await readFile(path.join(dir, `${UNSAFE}.sql`), 'utf8');

    expect(text.split('\n').filter((line) => !line.startsWith('--'))).toEqual([
      "SET lock_timeout = '5000ms';",
      "SET statement_timeout = '900000ms';",
      'BEGIN;',
      'CREATE INDEX orders_status_idx ON orders (status);',
      'ALTER TABLE orders ADD COLUMN tracking_id uuid NOT NULL DEFAULT gen_random_uuid();',
      'ALTER TABLE orders RENAME COLUMN total_amount TO total;',
      'COMMIT;',
      '',
    ]);
  });

  test('an exception covers only its migration, rule and statement; one that matches nothing fails the lint', async () => {
    const renameAllowed = { migration: UNSAFE, rule: 'renaming-column', statement: /RENAME COLUMN total_amount/, reason: 'test' };
    const otherStatement = { migration: UNSAFE, rule: 'adding-field-with-default', statement: /no such statement/, reason: 'test' };

    const report = await lintCapturedMigrations(captured, dir, [...SQUAWK_EXCEPTIONS, renameAllowed, otherStatement]);

    expect(report.failures.map((f) => f.rule)).toEqual(['require-concurrent-index-creation', 'adding-field-with-default']);
    expect(report.excused.filter((e) => e.exception === renameAllowed).map((e) => e.finding.rule)).toEqual(['renaming-column']);
    expect(report.unusedExceptions).toEqual([otherStatement]);
  });
});

describe('inlineParameters', () => {
  test('writes bound values as SQL literals, quotes doubled, and leaves statements without parameters alone', () => {
    expect(inlineParameters('insert into t (a, b, c, d) values ($1, $2, $3, $4)', [7, "it's", null, true])).toBe(
      "insert into t (a, b, c, d) values (7, 'it''s', NULL, true)",
    );
    expect(inlineParameters('create function f() returns int as $$ select $1 $$', [])).toBe('create function f() returns int as $$ select $1 $$');
  });
});
