/**
 * Migrations that run outside a transaction (`transaction = false`) and build
 * indexes with CREATE INDEX CONCURRENTLY (src/db/concurrent-index.ts): the
 * build, a failed build that leaves nothing behind, and an INVALID index left
 * by an interrupted build that the next run drops and builds anew.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { sql, type Kysely, type Migration } from 'kysely';
import pg from 'pg';

import { migrations } from '../migrations/index.js';
import type { Database } from '../src/db/database.js';
import { createIndexConcurrently, dropIndexConcurrentlyInMigration, indexValidity } from '../src/db/concurrent-index.js';
import { migrateToLatest, pendingMigrations, rollbackOne, type MigrationRunOptions, type ProjectMigration } from '../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

const NAME = '2099_01_01_0003_probe_email_key';
const OPTIONS: MigrationRunOptions = { lockTimeoutMs: 5_000, statementTimeoutMs: 30_000, lockRetries: 0 };

let testDb: TestDatabase;

beforeEach(async () => {
  testDb = await createTestDatabase();
  await sql`CREATE TABLE cic_probe (email text)`.execute(testDb.db);
});
afterEach(async () => {
  await testDb.drop();
});

/** A unique index on cic_probe(email), built concurrently; records what each run saw and did. */
function uniqueEmailMigration(): { migration: ProjectMigration; runs: { inTransaction: boolean; outcome?: string }[] } {
  const runs: { inTransaction: boolean; outcome?: string }[] = [];
  return {
    runs,
    migration: {
      transaction: false,
      up: async (db: Kysely<unknown>) => {
        const run: { inTransaction: boolean; outcome?: string } = { inTransaction: db.isTransaction };
        runs.push(run);
        run.outcome = await createIndexConcurrently(db, { name: 'cic_probe_email_key', on: 'ON cic_probe (email)', unique: true });
      },
      down: async (db: Kysely<unknown>) => {
        await dropIndexConcurrentlyInMigration(db, 'cic_probe_email_key');
      },
    },
  };
}

const withProbe = (migration: Migration): Record<string, Migration> => ({ ...migrations, [NAME]: migration });

describe('a migration with transaction = false', () => {
  test('builds its index concurrently outside a transaction, and its down drops it the same way', async () => {
    await sql`INSERT INTO cic_probe (email) VALUES ('a@example.com'), ('b@example.com')`.execute(testDb.db);
    const { migration, runs } = uniqueEmailMigration();

    const { results } = await migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(migration) });

    expect(results?.map((r) => [r.migrationName, r.status])).toEqual([[NAME, 'Success']]);
    expect(runs).toEqual([{ inTransaction: false, outcome: 'built' }]);
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('valid');
    await expect(sql`INSERT INTO cic_probe (email) VALUES ('a@example.com')`.execute(testDb.db)).rejects.toMatchObject({ code: '23505' });

    await rollbackOne(testDb.db, { ...OPTIONS, migrations: withProbe(migration) });
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('absent');
    expect(await pendingMigrations(testDb.db)).toEqual([]);
  });

  test('whose build fails (duplicates under a unique index) leaves no invalid index and is not recorded; after the fix it applies', async () => {
    await sql`INSERT INTO cic_probe (email) VALUES ('a@example.com'), ('a@example.com')`.execute(testDb.db);
    const { migration, runs } = uniqueEmailMigration();

    await expect(migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(migration) })).rejects.toMatchObject({
      message: `migration failed at ${NAME}`,
      cause: { code: '23505' },
    });
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('absent');
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM kysely_migration WHERE name = ${NAME}`.execute(testDb.db);
    expect(rows[0]?.n).toBe(0);

    await sql`DELETE FROM cic_probe WHERE ctid = (SELECT max(ctid) FROM cic_probe)`.execute(testDb.db);
    await migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(migration) });
    expect(runs.map((run) => run.outcome)).toEqual([undefined, 'built']);
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('valid');
  });

  test('finds the INVALID index an interrupted build left behind, drops it and builds it again', async () => {
    await sql`INSERT INTO cic_probe (email) VALUES ('a@example.com'), ('a@example.com')`.execute(testDb.db);
    // An earlier build that failed without cleaning up (a killed process, a build outside this runner).
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    try {
      await expect(client.query('CREATE UNIQUE INDEX CONCURRENTLY cic_probe_email_key ON cic_probe (email)')).rejects.toMatchObject({ code: '23505' });
    } finally {
      await client.end();
    }
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('invalid');
    await sql`DELETE FROM cic_probe WHERE ctid = (SELECT max(ctid) FROM cic_probe)`.execute(testDb.db);
    const { migration, runs } = uniqueEmailMigration();

    await migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(migration) });

    expect(runs).toEqual([{ inTransaction: false, outcome: 'rebuilt' }]);
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('valid');
  });

  test('that runs again after a later statement failed skips the index it already built', async () => {
    const { migration, runs } = uniqueEmailMigration();
    let failOnce = true;
    const flaky: ProjectMigration = {
      transaction: false,
      up: async (db) => {
        await migration.up(db);
        if (failOnce) {
          failOnce = false;
          throw new Error('a later statement failed');
        }
      },
      down: (db) => migration.down!(db),
    };

    await expect(migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(flaky) })).rejects.toThrow(`migration failed at ${NAME}`);
    await migrateToLatest(testDb.db, { ...OPTIONS, migrations: withProbe(flaky) });

    expect(runs.map((run) => run.outcome)).toEqual(['built', 'existed']);
    expect(await indexValidity(testDb.db, 'cic_probe_email_key')).toBe('valid');
  });

  test('createIndexConcurrently refuses to run inside a transaction', async () => {
    await expect(
      testDb.db.transaction().execute((trx) => createIndexConcurrently<Database>(trx, { name: 'cic_probe_email_idx', on: 'ON cic_probe (email)' })),
    ).rejects.toThrow('CREATE INDEX CONCURRENTLY cic_probe_email_idx cannot run in a transaction: export `const transaction = false` from the migration');
  });
});
