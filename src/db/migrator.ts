/**
 * The migration runner: Kysely's Migrator, driven one migration at a time.
 *
 * - One run at a time: a run holds a session-level advisory lock on one
 *   connection for its whole length and runs every step on it, so two
 *   replicas starting together apply each migration once, in order.
 * - Timeouts: the run's session has `lock_timeout` (MIGRATION_LOCK_TIMEOUT_MS)
 *   and `statement_timeout` (MIGRATION_STATEMENT_TIMEOUT_MS), so a migration
 *   waiting for a lock on a busy table gives up instead of queueing every
 *   query behind it.
 * - Retries: a migration that failed to take a lock (SQLSTATE 55P03) is
 *   started over after a backoff, up to MIGRATION_LOCK_RETRIES times; then
 *   the run fails with one line naming the blocking session
 *   (src/db/migration-blockers.ts).
 * - Transactions: each migration runs in a transaction of its own (Kysely
 *   alone would run all pending ones in one), so a failure undoes exactly
 *   the failing migration and a retry starts it over. A migration module
 *   exporting `transaction = false` runs outside a transaction, as
 *   `CREATE INDEX CONCURRENTLY` must; it has to be safe to run again
 *   (src/db/concurrent-index.ts).
 * - Waiting: a migration module exporting `waitsFor(db)` (the contract of a
 *   change made in phases, src/transitions/) is not run while that returns
 *   a reason (its backfill has not finished): the run stops before it
 *   without an error and reports it as `waiting`, and readiness does not
 *   count it as pending, since the release's code works without it.
 *
 * The migrator only touches its own bookkeeping tables and the migrations'
 * historical schema, so it accepts a Kysely instance of any database type.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';

import { migrations } from '../../migrations/index.js';
import { StartupError } from '../startup/startup-errors.js';
import { BlockerWatcher, describeBlocker } from './migration-blockers.js';

export interface MigrationRunOptions {
  /** `lock_timeout` of every migration statement, in ms. */
  lockTimeoutMs: number;
  /** `statement_timeout` of every migration statement (and the wait for another run), in ms. */
  statementTimeoutMs: number;
  /** Attempts after the first for a migration that hit `lock_timeout`. */
  lockRetries: number;
  /** Wait before the first retry, in ms; doubled for each further one, at most 30 s. @default 1000 */
  retryDelayMs?: number;
  /** How often a running step asks who blocks it, in ms. @default lockTimeoutMs / 4, at most 250 */
  blockerPollMs?: number;
  /** The migrations to run. @default every registered one (migrations/index.ts) */
  migrations?: Record<string, Migration>;
}

export const DEFAULT_MIGRATION_RUN_OPTIONS: MigrationRunOptions = { lockTimeoutMs: 5_000, statementTimeoutMs: 900_000, lockRetries: 4 };

/** The run options from the configuration (MIGRATION_* variables). */
export function migrationRunOptions(config: {
  migrationLockTimeoutMs: number;
  migrationStatementTimeoutMs: number;
  migrationLockRetries: number;
}): MigrationRunOptions {
  return {
    lockTimeoutMs: config.migrationLockTimeoutMs,
    statementTimeoutMs: config.migrationStatementTimeoutMs,
    lockRetries: config.migrationLockRetries,
  };
}

/**
 * A migration module; `transaction = false` runs it outside a transaction;
 * `waitsFor` says why it may not run yet (`undefined`: it may).
 */
export type ProjectMigration = Migration & { transaction?: boolean; waitsFor?: (db: Kysely<unknown>) => Promise<string | undefined> };

/** A run stopped before a migration that waits (`waitsFor`), and why. */
export interface WaitingMigration {
  migration: string;
  reason: string;
}

/** What a run applied (Kysely's results), and the migration it stopped before, if one waits. */
export type MigrationRun = MigrationResultSet & { waiting?: WaitingMigration };

/** Whether the migration may wait (`waitsFor`): the code runs without it, so it does not fail readiness. */
export function mayWait(migration: Migration): boolean {
  return typeof (migration as ProjectMigration).waitsFor === 'function';
}

export function runsInTransaction(migration: Migration): boolean {
  return (migration as ProjectMigration).transaction !== false;
}

/** A migration that could not take its lock within its attempts; the message names the blocker. */
export class MigrationLockTimeoutError extends StartupError {
  override name = 'MigrationLockTimeoutError';
}

/** Key of the advisory lock one run holds (Kysely's own per-step lock has another). */
const RUN_LOCK_KEY = 7_305_962_118_470_112_001n;
const LOCK_NOT_AVAILABLE = '55P03';
const MAX_RETRY_DELAY_MS = 30_000;

function isLockTimeout(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if ((e as { code?: unknown }).code === LOCK_NOT_AVAILABLE) return true;
  }
  return false;
}

function createKyselyMigrator<DB>(db: Kysely<DB>, set: Record<string, Migration>, disableTransactions: boolean): Migrator {
  return new Migrator({ db, disableTransactions, provider: { getMigrations: async () => set } });
}

/** Kysely's Migrator over every migration (status queries; runs go through migrateToLatest/rollbackOne). */
export function createMigrator<DB>(db: Kysely<DB>): Migrator {
  return createKyselyMigrator(db, migrations, false);
}

function throwOnError(result: MigrationRun, action: string): MigrationRun {
  if (result.error) {
    if (result.error instanceof MigrationLockTimeoutError) throw result.error;
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`${action} failed${failed ? ` at ${failed.migrationName}` : ''}`, { cause: result.error });
  }
  return result;
}

type Direction = 'Up' | 'Down';

/** The migration the next step in `direction` would run, or none. */
async function nextMigration(conn: Kysely<unknown>, set: Record<string, Migration>, direction: Direction): Promise<string | undefined> {
  const infos = await createKyselyMigrator(conn, set, false).getMigrations();
  if (direction === 'Up') return infos.find((info) => info.executedAt === undefined)?.name;
  const applied = infos.filter((info) => info.executedAt !== undefined).sort((a, b) => Number(a.executedAt) - Number(b.executedAt) || (a.name < b.name ? -1 : 1));
  return applied.at(-1)?.name;
}

/** One step (one migration), started over after a lock timeout until its retries are spent. */
async function runStep(conn: Kysely<unknown>, watcher: BlockerWatcher, name: string, direction: Direction, options: MigrationRunOptions): Promise<MigrationResultSet> {
  const set = options.migrations ?? migrations;
  const migration = set[name];
  const migrator = createKyselyMigrator(conn, set, migration !== undefined && !runsInTransaction(migration));
  const baseDelay = options.retryDelayMs ?? 1_000;
  for (let attempt = 1; ; attempt += 1) {
    const watch = watcher.watch();
    const result = direction === 'Up' ? await migrator.migrateUp() : await migrator.migrateDown();
    const blockers = await watch.stop();
    const ran = result.results?.[0]?.migrationName;
    if (ran !== undefined && ran !== name) throw new Error(`migration run expected ${name} next but ran ${ran}`);
    if (!result.error || !isLockTimeout(result.error)) return result;
    if (attempt <= options.lockRetries) {
      await delay(Math.min(baseDelay * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS));
      continue;
    }
    const blocked = blockers.length > 0 ? `blocked by ${blockers.map(describeBlocker).join('; ')}` : 'the blocking session had ended before it could be named';
    const message = `Migration ${name} (${direction === 'Up' ? 'up' : 'down'}) could not take a lock within MIGRATION_LOCK_TIMEOUT_MS=${options.lockTimeoutMs} in ${attempt} attempts; nothing of it was applied: ${blocked}`;
    return { results: result.results ?? [], error: new MigrationLockTimeoutError(message, { cause: result.error }) };
  }
}

/**
 * Runs up to `maxSteps` migrations in `direction` under the run lock, on one
 * connection with the run's timeouts; stops at the first failure.
 */
async function runMigrations<DB>(db: Kysely<DB>, direction: Direction, maxSteps: number, options: MigrationRunOptions): Promise<MigrationRun> {
  return db.connection().execute(async (connection) => {
    const conn = connection as unknown as Kysely<unknown>;
    let locked = false;
    let watcher: BlockerWatcher | undefined;
    try {
      // Waiting for another run is bounded by the statement timeout only.
      await sql`SET statement_timeout = ${sql.lit(options.statementTimeoutMs)}`.execute(conn);
      await sql`SET lock_timeout = 0`.execute(conn);
      await sql`SELECT pg_advisory_lock(${sql.lit(RUN_LOCK_KEY)})`.execute(conn);
      locked = true;
      await sql`SET lock_timeout = ${sql.lit(options.lockTimeoutMs)}`.execute(conn);
      const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn);
      const pollMs = options.blockerPollMs ?? Math.max(10, Math.min(250, Math.floor(options.lockTimeoutMs / 4)));
      watcher = new BlockerWatcher(db as Kysely<unknown>, rows[0]?.pid ?? 0, pollMs);
      const results: NonNullable<MigrationResultSet['results']> = [];
      for (let step = 0; step < maxSteps; step += 1) {
        const set = options.migrations ?? migrations;
        const name = await nextMigration(conn, set, direction);
        if (name === undefined) break;
        const migration: ProjectMigration | undefined = set[name];
        const reason = direction === 'Up' && migration?.waitsFor ? await migration.waitsFor(conn) : undefined;
        if (reason !== undefined) return { results, waiting: { migration: name, reason } };
        const result = await runStep(conn, watcher, name, direction, options);
        results.push(...(result.results ?? []));
        if (result.error) return { error: result.error, results };
      }
      return { results };
    } finally {
      await watcher?.close();
      if (locked) await sql`SELECT pg_advisory_unlock(${sql.lit(RUN_LOCK_KEY)})`.execute(conn);
      // The connection goes back to the pool with the pool's settings.
      await sql`RESET lock_timeout`.execute(conn);
      await sql`RESET statement_timeout`.execute(conn);
    }
  });
}

/** Runs every pending migration in order, up to the first that waits (`waiting` in the result). */
export async function migrateToLatest<DB>(db: Kysely<DB>, options: MigrationRunOptions = DEFAULT_MIGRATION_RUN_OPTIONS): Promise<MigrationRun> {
  return throwOnError(await runMigrations(db, 'Up', Number.POSITIVE_INFINITY, options), 'migration');
}

export async function rollbackOne<DB>(db: Kysely<DB>, options: MigrationRunOptions = DEFAULT_MIGRATION_RUN_OPTIONS): Promise<MigrationResultSet> {
  return throwOnError(await runMigrations(db, 'Down', 1, options), 'rollback');
}

export interface MigrationState {
  name: string;
  executedAt: Date | undefined;
}

export async function migrationStatus<DB>(db: Kysely<DB>): Promise<MigrationState[]> {
  const infos = await createMigrator(db).getMigrations();
  return infos.map((info) => ({ name: info.name, executedAt: info.executedAt }));
}

/** Names of migrations not yet applied; empty when the schema is current. */
export async function pendingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  return (await migrationStatus(db)).filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * The pending migrations this release's code needs: all but those that may
 * wait (`waitsFor`), which it runs without. A migration after a waiting one
 * still counts: the runner cannot apply it before.
 */
export async function requiredPendingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const pending = await pendingMigrations(db);
  const firstRequired = pending.findIndex((name) => !mayWait(migrations[name] as Migration));
  return firstRequired < 0 ? [] : pending.slice(firstRequired);
}
