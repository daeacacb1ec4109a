/**
 * What a module declares to run work after the response (src/jobs/,
 * docs/operations/worker.md): tasks (`ModuleDescriptor.tasks`) and their
 * schedules (`ModuleDescriptor.schedules`). The worker reads both from the
 * registry; services enqueue with `enqueueJob` (./enqueue.ts).
 */
import type { z } from 'zod';

import type { Logger } from '../observability/logger.js';
import type { Scope, ScopeDeps } from '../scope/scope.js';

/** A task's name: `<module>.<verb>`, e.g. `orders.expirePayment`, `accounts.purgeSessions`. */
export type TaskName = `${string}.${string}`;

/** A job to add to the queue, inside the caller's unit of work. */
export interface JobSpec {
  task: TaskName;
  /** JSON; checked against the task's `payload` schema when it runs. Keys starting with `_` are reserved. */
  payload: Record<string, unknown>;
  /** Not before this time (default: now). */
  runAt?: Date;
  /**
   * At most one waiting job per key: adding a job with the key of a job that
   * has not started replaces it (graphile-worker's `replace` mode).
   */
  jobKey?: string;
  /** Attempts in total before the job fails for good (default: the task's, else 25). */
  maxAttempts?: number;
  /** Jobs of one named queue run one at a time, in order. */
  queueName?: string;
  /** Lower runs sooner (default 0). */
  priority?: number;
}

/** The job a task runs for. */
export interface JobInfo {
  id: string;
  /** Attempts so far, this one included (1 on the first run). */
  attempts: number;
  maxAttempts: number;
  runAt?: Date;
  /** Aborts when the worker shuts down and the job's time to finish (WORKER_SHUTDOWN_TIMEOUT_MS) is up: stop outside calls then. */
  signal?: AbortSignal;
}

/**
 * A module's task. `run` gets a scope built like a request's (no viewer:
 * the system; request id `job:<id>`), already inside a unit of work of its
 * own that commits when `run` returns and rolls back when it throws; the
 * services it calls join that unit (unless the task says `unit: false`). A thrown error fails the attempt, which
 * is retried with exponential backoff up to `maxAttempts`. A payload that
 * does not match `payload` fails the job for good, without retries.
 *
 * Idempotent by design: after a crash a job may run again even though its
 * work committed (its completion is written after the commit).
 */
export interface TaskDefinition<L = unknown, P extends z.ZodType = z.ZodType> {
  payload: P;
  run(scope: Scope<L>, payload: z.output<P>, job: JobInfo): Promise<void>;
  /** Attempts in total for this task's jobs when the enqueuer does not say (default 25). */
  maxAttempts?: number;
  /**
   * `false`: `run` gets its scope outside any unit of work and opens its own
   * short units around the service calls that write (`unitOfWork(scope, ...)`),
   * for a task that waits on something slow between them (an outside HTTP
   * call) and must not hold a transaction, its locks and a pooled connection
   * meanwhile. Default `true`: one unit around the whole `run`.
   */
  unit?: boolean;
}

/** Declares a task, inferring the payload's type from its schema. */
export function defineTask<L, P extends z.ZodType>(task: TaskDefinition<L, P>): TaskDefinition<L, P> {
  return task;
}

/**
 * One crontab line in graphile-worker's syntax: `<minute> <hour> <day> <month>
 * <weekday> <task> [?options] [payload JSON]`, e.g.
 * `'17 * * * * accounts.purgeSessions ?max=1'` (options: `id`, `fill` for
 * backfill, `max`, `queue`, `priority`). Every instance may run the worker:
 * graphile-worker runs each due line once across all of them.
 */
export type Schedule = string;

/** What a worker loop is started with: the worker's scope dependencies and logger, and its concurrency. */
export interface WorkerLoopContext<L = unknown> {
  deps: ScopeDeps<L>;
  log: Logger;
  /** WORKER_CONCURRENCY: what the loop may run at once, like the jobs. */
  concurrency: number;
}

/**
 * Work a module runs beside its jobs in every process that runs the worker
 * (`ModuleDescriptor.loops`): started after the worker's runner, stopped with
 * it (`stop` resolves once what it was running has finished). For work that
 * a job per unit would make too dear (the webhook dispatcher:
 * src/modules/webhooks/dispatcher.ts).
 */
export interface WorkerLoop<L = unknown> {
  start(context: WorkerLoopContext<L>): { stop(): Promise<void> };
}
