/**
 * The job queue's SQL: graphile-worker's functions and tables in the
 * `graphile_worker` schema (installed by the project's migrations:
 * migrations/2026_12_07_0011_job_queue.ts).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

import type { Database } from '../db/database.js';

/** A job as stored: the payload is JSON already. */
export interface StoredJob {
  task: string;
  payload: Record<string, unknown>;
  runAt?: Date | undefined;
  jobKey?: string | undefined;
  maxAttempts?: number | undefined;
  queueName?: string | undefined;
  priority?: number | undefined;
}

/**
 * Adds a job with `graphile_worker.add_job` on `db`: on a transaction, the
 * job exists once that transaction commits, and never if it rolls back
 * (add_job's NOTIFY is delivered at commit too). Returns the job's id.
 */
export async function addJob(db: Kysely<Database>, job: StoredJob): Promise<string> {
  const result = await sql<{ id: string }>`
    SELECT (graphile_worker.add_job(
      ${job.task}::text,
      ${JSON.stringify(job.payload)}::json,
      queue_name => ${job.queueName ?? null}::text,
      run_at => ${job.runAt ?? null}::timestamptz,
      max_attempts => ${job.maxAttempts ?? null}::integer,
      job_key => ${job.jobKey ?? null}::text,
      priority => ${job.priority ?? null}::integer
    )).id::text AS id`.execute(db);
  const id = result.rows[0]?.id;
  if (id === undefined) throw new Error(`graphile_worker.add_job returned no job for ${job.task}`);
  return id;
}

/**
 * A `graphile_worker.add_job(...)` call as an SQL expression, for a repository
 * that adds one job per row inside one of its own statements (the webhook
 * outbox: rows and jobs in one round trip). Same semantics as `addJob`: on a
 * transaction the jobs exist once it commits, never if it rolls back. Its
 * value is the job row; `payload` is a JSON expression of the statement
 * (reserved keys included: see `jobPayloadMeta` in ./enqueue.ts).
 */
export function addJobCall(job: { task: string; payload: RawBuilder<unknown>; jobKey?: RawBuilder<unknown>; maxAttempts?: number }): RawBuilder<unknown> {
  return sql`graphile_worker.add_job(${job.task}::text, (${job.payload})::json, job_key => (${job.jobKey ?? null})::text, max_attempts => ${job.maxAttempts ?? null}::integer)`;
}

/**
 * Makes the running attempt of a job its last: when the attempt then fails,
 * the job stays in the table, failed for good (`attempts = max_attempts`,
 * with its `last_error`), and is not retried.
 */
export async function makeLastAttempt(db: Kysely<Database>, jobId: string): Promise<void> {
  await sql`UPDATE graphile_worker._private_jobs SET max_attempts = attempts WHERE id = ${jobId}::bigint`.execute(db);
}

/** Jobs in the queue by state, for /metrics. */
export interface QueueDepth {
  /** Due and waiting for a worker. */
  ready: number;
  /** Waiting for their time: scheduled for later, or a retry backing off. */
  scheduled: number;
  /** Taken by a worker (running, or held by a worker that died until another releases it: src/jobs/recovery.ts). */
  locked: number;
  /** Out of attempts: kept with their last error, never run again. */
  failed: number;
}

export async function countJobsByState(db: Kysely<Database>): Promise<QueueDepth> {
  const result = await sql<{ ready: string; scheduled: string; locked: string; failed: string }>`
    SELECT count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now()) AS ready,
           count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at > now()) AS scheduled,
           count(*) FILTER (WHERE locked_at IS NOT NULL) AS locked,
           count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts) AS failed
      FROM graphile_worker._private_jobs`.execute(db);
  const row = result.rows[0];
  return {
    ready: Number(row?.ready ?? 0),
    scheduled: Number(row?.scheduled ?? 0),
    locked: Number(row?.locked ?? 0),
    failed: Number(row?.failed ?? 0),
  };
}

/** The advisory-lock key of a worker pool's lease (`locked_by` of its jobs is the pool's id). */
const leaseKey = (poolId: string) => `graphile-worker-pool:${poolId}`;

/**
 * Takes the lease of a worker pool: a session advisory lock on `db`'s one
 * connection, held while that connection lives. PostgreSQL drops it when the
 * session ends, with the process that held it (src/jobs/recovery.ts).
 */
export async function takeWorkerLease(db: Kysely<Database>, poolId: string): Promise<void> {
  await sql`SELECT pg_advisory_lock(hashtextextended(${leaseKey(poolId)}, 0))`.execute(db);
}

/**
 * Releases the jobs (and named queues) locked by worker pools whose lease is
 * gone, in one transaction `trx`: a pool is dead when its lease can be taken
 * (`pg_try_advisory_xact_lock`, given back at commit). Only pools with a job
 * locked more than `graceSeconds` ago are looked at, so a pool that has just
 * started and not yet taken its lease is left alone. The released jobs are
 * due at once (graphile-worker's `force_unlock_workers`). Returns the dead
 * pools' ids.
 */
export async function releaseDeadWorkers(trx: Kysely<Database>, graceSeconds: number): Promise<string[]> {
  const found = await sql<{ locked_by: string }>`
    SELECT locked_by FROM (
      SELECT DISTINCT locked_by FROM graphile_worker._private_jobs
       WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => ${graceSeconds})
    ) AS holders
     WHERE pg_try_advisory_xact_lock(hashtextextended('graphile-worker-pool:' || locked_by, 0))`.execute(trx);
  const dead = found.rows.map((row) => row.locked_by);
  if (dead.length > 0) await sql`SELECT graphile_worker.force_unlock_workers(${dead}::text[])`.execute(trx);
  return dead;
}
