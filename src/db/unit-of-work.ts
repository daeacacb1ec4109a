import { setTimeout as sleep } from 'node:timers/promises';
import type { IsolationLevel, Kysely, Transaction } from 'kysely';

import type { Change } from '../scope/change-feed.js';
import type { Scope } from '../scope/scope.js';
import { beyondPoolShare } from './pool-share.js';
import type { Database } from './database.js';
import { isDatabaseUnavailable } from './faults.js';
import type { AfterCommit, UnitState } from './unit-state.js';

/**
 * The unit of work: the only code that opens transactions
 * (`startTransaction()`, and `transaction()` in `inPlainTransaction` for
 * scripts); services call `unitOfWork(scope, ...)` instead.
 *
 * - Outermost call: BEGIN, run, COMMIT (or ROLLBACK on any error).
 * - Inside an open unit: join its transaction, so a caller can wrap several
 *   services (and an idempotency record, or an enqueued job) in one commit.
 *   With `savepoint: true` the part runs in a savepoint: its failure rolls
 *   back only that part, and the caller may carry on.
 * - `detached: true`: its own transaction even inside another unit (BEGIN
 *   and COMMIT on a second connection), for the rare write that must commit
 *   whatever the caller does (say why where used). It neither sees the outer
 *   unit's uncommitted writes nor waits for its end; its after-commit
 *   callbacks and changes follow its own commit. It must not touch rows the
 *   outer unit has written or locked: it would wait for a lock its own caller
 *   holds, which only the statement timeout ends.
 * - Inside a unit the scope's `db` is the transaction and its loaders are
 *   rebuilt on it, so reads see the unit's own writes. After a commit (and
 *   after a savepoint part) the caller's loaders are replaced too.
 * - Domain events (src/scope/events.ts) recorded in the unit reach the
 *   scope's event sinks inside the transaction, right before COMMIT (the
 *   outermost unit's, or a detached unit's own); a sink that throws rolls the
 *   unit back; events of a savepoint part that rolled back are dropped.
 * - `afterCommit` callbacks run once after the commit of their unit, never
 *   after a rollback (and never for a savepoint that rolled back). The
 *   unit's recorded changes (src/scope/changes.ts) are announced first, in
 *   one `publish`; changes of a savepoint part that rolled back are dropped.
 * - SQLSTATE 40001 (serialization failure) and 40P01 (deadlock) re-run the
 *   whole unit with jittered backoff, a bounded number of times, but only at
 *   the outermost level and only when the caller says the work is
 *   `rerunnable` (everything it does is in the transaction or after commit).
 */

export type { AfterCommit, UnitState } from './unit-state.js';

export interface UnitOptions {
  /** Safe to re-run from the start after a serialization failure or deadlock (outermost level only). */
  rerunnable?: boolean;
  /** When joining an open unit, isolate this part in a savepoint. */
  savepoint?: boolean;
  /** Run in a transaction of its own, even inside another unit. */
  detached?: boolean;
  isolation?: IsolationLevel;
  /** Attempts in total for rerunnable work (default 4). */
  maxAttempts?: number;
}

const TRANSIENT = new Set(['40001', '40P01']);
const DEFAULT_ATTEMPTS = 4;
const BASE_DELAY_MS = 15;
const MAX_DELAY_MS = 500;

/** A serialization failure or a deadlock: the transaction may succeed if run again. */
export function isTransientFailure(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && TRANSIENT.has(code);
}

/** Full jitter: a random wait up to an exponentially growing cap, so competing retries spread out. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
}

export async function unitOfWork<L, T>(scope: Scope<L>, work: (scope: Scope<L>) => Promise<T>, options: UnitOptions = {}): Promise<T> {
  if (scope.unit && !options.detached) return options.savepoint ? inSavepoint(scope, scope.unit, work) : work(scope);
  const attempts = options.rerunnable ? Math.max(1, options.maxAttempts ?? DEFAULT_ATTEMPTS) : 1;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await runOutermost(scope, work, options);
    } catch (error) {
      if (attempt >= attempts || !isTransientFailure(error)) throw error;
      const delay = retryDelayMs(attempt);
      scope.log.warn({ err: error, attempt, delayMs: delay }, 'transaction aborted by a serialization failure or deadlock; running it again');
      await sleep(delay);
    }
  }
}

/**
 * One plain transaction on a handle, for code that has no scope: the demo
 * seed, the benchmark's data set, tests that arrange concurrent writes. No
 * loaders, no joining, no retries; services use `unitOfWork`.
 */
export async function inPlainTransaction<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(work);
}

/**
 * Registers a callback for after the commit of the scope's unit of work
 * (cache invalidation, publishing an event, waking a worker). Outside a unit
 * the write it follows has committed already, so it runs at once. A callback
 * that fails is logged: the work it follows has committed.
 */
export async function afterCommit(scope: Scope, callback: AfterCommit): Promise<void> {
  if (scope.unit) scope.unit.callbacks.push(callback);
  else await runCallbacks(scope, [callback]);
}

async function runOutermost<L, T>(scope: Scope<L>, work: (scope: Scope<L>) => Promise<T>, options: UnitOptions): Promise<T> {
  const open = await openUnit(scope, options);
  let result: T;
  try {
    result = await work(open.scope);
  } catch (error) {
    await open.rollback();
    throw error;
  }
  await open.commit();
  return result;
}

/** An outermost unit of work opened by an edge whose work spans callbacks (see `beginUnit`). */
export interface OpenUnit<L> {
  /** The scope to run the work in: `db` is the transaction, loaders are built on it, `unit` is set. */
  readonly scope: Scope<L>;
  /** COMMIT, then refresh the caller's loaders and run the after-commit callbacks. Rolls back and rethrows if COMMIT fails. */
  commit(): Promise<void>;
  /** ROLLBACK (a failure to roll back is logged); the after-commit callbacks are dropped. */
  rollback(): Promise<void>;
  /** Whether commit or rollback has run. */
  readonly ended: boolean;
}

/**
 * Opens an outermost unit of work and hands its ending to the caller, for an
 * edge whose work is not one function call: the HTTP layer runs a keyed
 * mutation's whole GraphQL execution in it and commits only once the response
 * is stored with it (src/idempotency). Services still use `unitOfWork`, which
 * joins this unit. No retries: the caller cannot re-run what it handed out.
 */
export async function beginUnit<L>(scope: Scope<L>, options: Pick<UnitOptions, 'isolation'> = {}): Promise<OpenUnit<L>> {
  if (scope.unit) throw new Error('beginUnit: the scope already runs in a unit of work');
  return openUnit(scope, options);
}

/**
 * BEGIN on a connection of the scope's pool. Inside another unit (a detached
 * unit) the outer one keeps its connection and waits for this one, so the
 * checkout does not wait on the request's pool share (src/db/connection.ts):
 * with a share of 1 it would wait for the outer unit's connection forever.
 */
async function openUnit<L>(scope: Scope<L>, options: Pick<UnitOptions, 'isolation'>): Promise<OpenUnit<L>> {
  const builder = (scope.unit ? beyondPoolShare(scope.pool) : scope.pool).startTransaction();
  const trx = await (options.isolation ? builder.setIsolationLevel(options.isolation) : builder).execute();
  const unit: UnitState = { trx, callbacks: [], changes: [], events: [], savepoints: 0 };
  const unitScope: Scope<L> = { ...scope, db: trx, loaders: scope.deps.createLoaders(trx), unit };
  let ended = false;
  const rollback = async () => {
    if (ended) return;
    ended = true;
    // After a failed COMMIT PostgreSQL has ended the transaction; ROLLBACK then only returns the connection.
    if (!trx.isRolledBack && !trx.isCommitted) {
      // On a lost connection PostgreSQL has dropped the transaction itself; the outage is logged once by the pool.
      await trx.rollback().execute().catch((rollbackError: unknown) => scope.log[isDatabaseUnavailable(rollbackError) ? 'debug' : 'error']({ err: rollbackError }, 'rollback failed'));
    }
  };
  return {
    scope: unitScope,
    get ended() {
      return ended;
    },
    rollback,
    async commit() {
      if (ended) throw new Error('commit: the unit of work has already ended');
      try {
        // The sinks write in the transaction (an outbox row, a job): they commit with the work, or it all rolls back.
        await handEventsToSinks(unitScope, unit);
        await trx.commit().execute();
      } catch (error) {
        await rollback();
        throw error;
      }
      ended = true;
      // Reads after the unit (the mutation's payload) must not see rows cached
      // before it; after a detached unit, the outer unit's loaders (on its own
      // transaction, which sees this commit) are replaced the same way.
      scope.loaders = scope.deps.createLoaders(scope.db);
      await announceChanges(scope, unit.changes);
      await runCallbacks(scope, unit.callbacks);
    },
  };
}

async function inSavepoint<L, T>(scope: Scope<L>, unit: UnitState, work: (scope: Scope<L>) => Promise<T>): Promise<T> {
  unit.savepoints += 1;
  const name = `unit_${unit.savepoints}`;
  const callbacksBefore = unit.callbacks.length;
  const changesBefore = unit.changes.length;
  const eventsBefore = unit.events.length;
  const savepoint = await unit.trx.savepoint(name).execute();
  try {
    const result = await work({ ...scope, loaders: scope.deps.createLoaders(unit.trx) });
    await savepoint.releaseSavepoint(name).execute();
    // The caller reads on after this part: drop what it cached before these writes.
    scope.loaders = scope.deps.createLoaders(unit.trx);
    return result;
  } catch (error) {
    await savepoint.rollbackToSavepoint(name).execute();
    // What the rolled-back part asked for after commit, and the changes it recorded, no longer apply.
    unit.callbacks.length = callbacksBefore;
    unit.changes.length = changesBefore;
    unit.events.length = eventsBefore;
    throw error;
  }
}

/**
 * The unit's domain events, to each of the scope's sinks in turn, before
 * COMMIT and in the transaction. Nothing runs when nothing was recorded or
 * no sink listens. A sink that throws fails the commit (the unit rolls back).
 */
async function handEventsToSinks(scope: Scope, unit: UnitState): Promise<void> {
  const sinks = scope.deps.eventSinks;
  if (!sinks || sinks.length === 0 || unit.events.length === 0) return;
  const events = [...unit.events];
  for (const sink of sinks) {
    try {
      await sink.beforeCommit(scope, events);
    } catch (error) {
      scope.log.error({ err: error, sink: sink.name, events: events.length }, 'event sink failed; the unit of work rolls back');
      throw error;
    }
  }
}

/** The unit's changes, in one publish to the scope's change feed; a feed that fails is logged like a callback. */
async function announceChanges(scope: Scope, changes: readonly Change[]): Promise<void> {
  const feed = scope.deps.changes;
  if (!feed || changes.length === 0) return;
  try {
    await feed.publish(changes);
  } catch (error) {
    scope.log.error({ err: error }, 'change feed failed to publish');
  }
}

async function runCallbacks(scope: Scope, callbacks: readonly AfterCommit[]): Promise<void> {
  for (const callback of callbacks) {
    try {
      await callback();
    } catch (error) {
      scope.log.error({ err: error }, 'after-commit callback failed');
    }
  }
}
