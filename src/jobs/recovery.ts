/**
 * Recovery of the jobs of a worker that died (SIGKILL, a crash, an OOM kill).
 *
 * graphile-worker 0.17 marks a job it takes with `locked_by` (its worker
 * pool's id) and `locked_at`, and frees a lock only after 4 hours: a worker
 * killed mid-job would hold its jobs (a webhook delivery, an expiry run) for
 * that long. Here each pool holds a **lease**, a session advisory lock keyed
 * by its id on a connection of its own, from its start to its stop.
 * PostgreSQL drops the lease with the session, as soon as the server sees the
 * connection end (at once when the process dies and the host stays up). Every
 * worker, when it starts and then every `intervalMs`, releases the jobs of
 * pools whose lease is gone (`releaseDeadWorkers`): they run again at once,
 * on any worker (tasks are idempotent: docs/operations/worker.md).
 *
 * Jobs locked in the last `GRACE_SECONDS` are left alone: a pool locks its
 * first job within milliseconds of taking its lease, and a sweep must not
 * mistake a pool that is starting for a dead one.
 */
import { EventEmitter } from 'node:events';

import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { releaseDeadWorkers, takeWorkerLease } from './jobs.repository.js';

export const GRACE_SECONDS = 10;
const RETRY_MS = 1000;

export interface WorkerLease {
  /** graphile-worker's `events` option: the lease is taken when the pool is created. */
  events: EventEmitter;
  /** Gives the lease back (after the pool stopped) and closes its connection. */
  release(): Promise<void>;
}

/**
 * The lease of the pool graphile-worker creates with `events`: taken on
 * `pool:create`, re-taken after its connection is lost (so another worker
 * may release this pool's jobs in between; they are idempotent).
 */
export function workerLease(connectionString: string, log: Logger): WorkerLease {
  const events = new EventEmitter();
  const pool = new pg.Pool({ connectionString, max: 1, idleTimeoutMillis: 0 });
  let lost: (() => void) | undefined;
  pool.on('error', () => lost?.());
  pool.on('connect', (client) => client.on('error', () => lost?.()));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let stopping = false;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let holding: Promise<void> | undefined;

  async function hold(poolId: string): Promise<void> {
    while (!stopping) {
      try {
        await db.connection().execute(async (connection) => {
          await takeWorkerLease(connection, poolId);
          log.debug({ poolId }, 'job worker: lease held');
          // Held until the worker stops or the connection is lost.
          await Promise.race([stopped, new Promise<void>((resolve) => (lost = resolve))]);
        });
      } catch (error) {
        if (!stopping) log.warn({ err: error, poolId }, 'job worker: the lease connection failed; taking the lease again');
      }
      if (!stopping) {
        log.warn({ poolId }, 'job worker: the lease was lost; taking it again');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  events.on('pool:create', ({ workerPool }: { workerPool: { id: string } }) => {
    holding ??= hold(workerPool.id);
  });
  return {
    events,
    async release() {
      stopping = true;
      stop();
      await holding;
      await db.destroy();
    },
  };
}

/**
 * Releases dead pools' jobs now (in a transaction on `db`) and then every
 * `intervalMs`; returns a function that stops it. A failed sweep is logged
 * and tried again at the next interval.
 */
export function watchDeadWorkers(db: Kysely<Database>, log: Logger, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const sweep = () => {
    running ??= db
      .transaction()
      .execute((trx) => releaseDeadWorkers(trx, GRACE_SECONDS))
      .then(
        (dead) => {
          if (dead.length > 0) log.warn({ pools: dead }, 'released the jobs of worker processes that died; they run again now');
        },
        (error: unknown) => log.warn({ err: error }, 'could not look for the jobs of dead workers; trying again later'),
      )
      .finally(() => (running = undefined));
  };
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
