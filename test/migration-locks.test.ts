/**
 * The migration runner under contention (src/db/migrator.ts): lock_timeout,
 * retries that start a migration over, the one-line failure naming the
 * blocking session, and one run at a time. Each test migrates a fresh clone
 * of the template with the registered migrations plus a test migration.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { sql, type Kysely, type Migration } from 'kysely';
import pg from 'pg';

import { migrations } from '../migrations/index.js';
import type { Database } from '../src/db/database.js';
import { migrateToLatest, MigrationLockTimeoutError, pendingMigrations, type MigrationRunOptions } from '../src/db/migrator.js';
import { describeStartupError } from '../src/startup/startup-errors.js';
import { waitFor } from './helpers/database-faults.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

const GIFT_NOTE = '2099_01_01_0001_orders_gift_note';
/** Short timeouts so a blocked run ends in about a second; the retry waits are tiny too. */
const FAST: MigrationRunOptions = { lockTimeoutMs: 300, statementTimeoutMs: 30_000, lockRetries: 2, retryDelayMs: 50, blockerPollMs: 20 };

let testDb: TestDatabase;
let holder: pg.Client | undefined;

beforeEach(async () => {
  testDb = await createTestDatabase();
});
afterEach(async () => {
  await holder?.end();
  holder = undefined;
  await testDb.drop();
});

/** Another session, in a transaction that has read `orders` and stays open (a long report, say). */
async function holdOrdersOpen(): Promise<{ pid: number; release: () => Promise<void> }> {
  holder = new pg.Client({ connectionString: testDb.url, application_name: 'long-report' });
  await holder.connect();
  const client = holder;
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query('BEGIN');
  await client.query('SELECT count(*) AS long_report FROM orders');
  return { pid: rows[0]!.pid, release: async () => void (await client.query('COMMIT')) };
}

/** Adds `orders.gift_note`, after creating a table first: a half-applied run would leave that table. */
function giftNoteMigration(): { migration: Migration; attempts: () => number } {
  let attempts = 0;
  return {
    attempts: () => attempts,
    migration: {
      up: async (db: Kysely<unknown>) => {
        attempts += 1;
        await sql`CREATE TABLE gift_note_probe (id int)`.execute(db);
        await sql`ALTER TABLE orders ADD COLUMN gift_note text`.execute(db);
      },
      down: async (db: Kysely<unknown>) => {
        await sql`ALTER TABLE orders DROP COLUMN gift_note`.execute(db);
        await sql`DROP TABLE gift_note_probe`.execute(db);
      },
    },
  };
}

async function relationExists(db: Kysely<Database>, name: string): Promise<boolean> {
  const { rows } = await sql<{ found: string | null }>`SELECT to_regclass(${name})::text AS found`.execute(db);
  return rows[0]?.found !== null && rows[0]?.found !== undefined;
}

async function columnExists(db: Kysely<Database>, table: string, column: string): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = ${table} AND column_name = ${column}`.execute(db);
  return rows[0]?.n === 1;
}

describe('a migration blocked by a long transaction', () => {
  test('is retried, then fails with one line naming the blocking session and its query; nothing of it is applied', async () => {
    const blocker = await holdOrdersOpen();
    const { migration, attempts } = giftNoteMigration();

    const failure = await migrateToLatest(testDb.db, { ...FAST, migrations: { ...migrations, [GIFT_NOTE]: migration } }).then(
      () => new Error('the migration was applied'),
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(MigrationLockTimeoutError);
    const message = (failure as Error).message;
    expect(message).toMatch(new RegExp(`^Migration ${GIFT_NOTE} \\(up\\) could not take a lock within MIGRATION_LOCK_TIMEOUT_MS=300 in 3 attempts; nothing of it was applied: `));
    expect(message).toMatch(new RegExp(`blocked by pid ${blocker.pid} \\(idle in transaction for \\d+\\.\\d s, transaction open \\d+\\.\\d s\\): SELECT count\\(\\*\\) AS long_report FROM orders$`));
    expect(message).not.toContain('\n');
    // What `npm run db:migrate` prints is that line as it is.
    expect(describeStartupError(failure)).toBe(message);
    expect(attempts()).toBe(3);

    expect(await columnExists(testDb.db, 'orders', 'gift_note')).toBe(false);
    expect(await relationExists(testDb.db, 'gift_note_probe')).toBe(false);
    expect(await pendingMigrations(testDb.db)).toEqual([]); // the registered ones, all applied before

    await blocker.release();
    const { results } = await migrateToLatest(testDb.db, { ...FAST, migrations: { ...migrations, [GIFT_NOTE]: migration } });
    expect(results?.map((r) => [r.migrationName, r.status])).toEqual([[GIFT_NOTE, 'Success']]);
    expect(await columnExists(testDb.db, 'orders', 'gift_note')).toBe(true);
    expect(await relationExists(testDb.db, 'gift_note_probe')).toBe(true);
  });

  test('is started over after each lock timeout and succeeds once the blocker commits', async () => {
    const blocker = await holdOrdersOpen();
    const { migration, attempts } = giftNoteMigration();

    const run = migrateToLatest(testDb.db, { ...FAST, lockRetries: 20, migrations: { ...migrations, [GIFT_NOTE]: migration } });
    await waitFor(async () => attempts() >= 2, 'a second attempt');
    await blocker.release();
    const { results } = await run;

    expect(results?.map((r) => [r.migrationName, r.status])).toEqual([[GIFT_NOTE, 'Success']]);
    expect(attempts()).toBeGreaterThanOrEqual(2);
    expect(await columnExists(testDb.db, 'orders', 'gift_note')).toBe(true);
  });
});

describe('one migration run at a time', () => {
  test('two runs started together apply a pending migration once, and both succeed', async () => {
    let applied = 0;
    const slow: Migration = {
      up: async (db: Kysely<unknown>) => {
        applied += 1;
        await sql`SELECT pg_sleep(0.3)`.execute(db);
        await sql`CREATE TABLE run_lock_probe (id int)`.execute(db);
      },
      down: async (db: Kysely<unknown>) => void (await sql`DROP TABLE run_lock_probe`.execute(db)),
    };
    const set = { ...migrations, '2099_01_01_0002_run_lock_probe': slow };

    const [first, second] = await Promise.all([migrateToLatest(testDb.db, { ...FAST, migrations: set }), migrateToLatest(testDb.db, { ...FAST, migrations: set })]);

    expect(applied).toBe(1);
    expect([...(first.results ?? []), ...(second.results ?? [])].map((r) => [r.migrationName, r.status])).toEqual([['2099_01_01_0002_run_lock_probe', 'Success']]);
  });
});
