/**
 * The job queue's SQL: graphile-worker's functions and tables in the
 * `graphile_worker` schema (installed by the project's migrations:
 * migrations/2026_12_07_0011_job_queue.ts).
 */
import { sql, type Kysely } from 'kysely';

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
  /** Taken by a worker (running, or held by a worker that died until its lock expires). */
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
