/**
 * The job worker: graphile-worker running the tasks the modules declare
 * (`ModuleDescriptor.tasks`, read from the registry) and their crontab lines
 * (`schedules`). Each job runs in a scope built like a request's (no viewer:
 * the system; request id `job:<id>`), in a unit of work of its own (or, for a
 * task declared with `unit: false`, in the units it opens itself), under a
 * span continuing the trace of the request that enqueued it. Placement,
 * configuration and shutdown: docs/operations/worker.md.
 */
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation } from '@opentelemetry/api';
import pg from 'pg';
import { Logger as WorkerLogger, run, type JobHelpers, type Runner, type TaskList } from 'graphile-worker';

import type { Config, WorkerConfig } from '../config/types.js';
import { unitOfWork } from '../db/unit-of-work.js';
import { jobSchedules, jobTasks, workerLoops, type AppLoaders } from '../modules/registry.js';
import { observeJob } from '../observability/job-metrics.js';
import type { Logger } from '../observability/logger.js';
import { tracer } from '../observability/tracing.js';
import { buildScope, type ScopeDeps } from '../scope/scope.js';
import { JOB_META_KEY, type JobMeta } from './enqueue.js';
import { makeLastAttempt } from './jobs.repository.js';
import { watchDeadWorkers, workerLease } from './recovery.js';
import { parseSchedules } from './schedules.js';
import { systemSchedules, systemTasks } from './system-tasks.js';
import type { JobInfo, Schedule, TaskDefinition, WorkerLoop } from './task.js';

export interface JobWorkerOptions {
  /** What each job's scope is built with (the app's pool, auth runtime, loaders, change feed, event sinks). */
  deps: ScopeDeps<AppLoaders>;
  log: Logger;
  /** A direct connection (not through a transaction pooler): the worker LISTENs for new jobs. */
  connectionString: string;
  config: Pick<WorkerConfig, 'concurrency' | 'pollIntervalMs' | 'shutdownTimeoutMs'> & Partial<Pick<WorkerConfig, 'recoveryIntervalMs'>>;
  /** Default: every module's (the registry's) and the cross-cutting ones (./system-tasks.ts). */
  tasks?: ReadonlyMap<string, TaskDefinition<AppLoaders>>;
  /** The crontab: `schedulesFor(config)` in the API and worker processes; tests pass their own (or none). */
  schedules: readonly Schedule[];
  /** Default: every module's (the registry's), unless `tasks` is given (then none). */
  loops?: ReadonlyMap<string, WorkerLoop<AppLoaders>>;
}

export interface JobWorker {
  /**
   * Graceful stop: takes no new job, waits up to `shutdownTimeoutMs` for the
   * running ones, then releases those still running (failed with a retry, so
   * they run again later), and closes the worker's connections.
   */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped (after `stop`, or on its own after a fatal error). */
  readonly stopped: Promise<void>;
}

/** WORKER_RECOVERY_INTERVAL_MS's default, for callers that do not pass the configuration. */
const DEFAULT_RECOVERY_INTERVAL_MS = 15_000;

/** The host's first external IPv4 address (a job's `request.ip`), else loopback. */
function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((address) => address.family === 'IPv4' && !address.internal);
    if (external) return external.address;
  }
  return '127.0.0.1';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The task's own payload, without the reserved keys (`_meta` from enqueueJob, `_cron` from the crontab). */
export function splitPayload(raw: unknown): { data: unknown; meta: JobMeta | undefined } {
  if (!isRecord(raw)) return { data: raw, meta: undefined };
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (key !== JOB_META_KEY && key !== '_cron') data[key] = value;
  const meta = raw[JOB_META_KEY];
  return { data, meta: isRecord(meta) && typeof meta['traceparent'] === 'string' ? meta : undefined };
}

/** graphile-worker's log lines through pino: its routine chatter, and its account of a failed job (logged by runJob with the job's id and task), at debug; the rest as it says. */
function workerLogger(log: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const bindings = { worker: scope, ...(meta?.['error'] !== undefined ? { err: meta['error'] } : {}) };
    const name: string = level;
    if (name === 'error' && !message.startsWith('Failed task')) log.error(bindings, message);
    else if (name === 'warning') log.warn(bindings, message);
    else log.debug(bindings, message);
  });
}

interface RunContext {
  deps: ScopeDeps<AppLoaders>;
  log: Logger;
  ip: string;
}

async function runJob(name: string, task: TaskDefinition<AppLoaders>, raw: unknown, helpers: JobHelpers, ctx: RunContext): Promise<void> {
  const { job } = helpers;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const log = ctx.log.child({ jobId: job.id, task: name, attempt: job.attempts });
  const { data, meta } = splitPayload(raw);
  const parent = meta ? propagation.extract(ROOT_CONTEXT, meta) : ROOT_CONTEXT;
  const attributes = { 'job.id': job.id, 'job.task': name, 'job.attempt': job.attempts, 'job.max_attempts': job.max_attempts };
  await tracer().startActiveSpan(`job ${name}`, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
    try {
      const parsed = task.payload.safeParse(data);
      if (!parsed.success) {
        // A payload no attempt can fix: this attempt is the last, and the job stays failed with its error.
        await makeLastAttempt(ctx.deps.db, job.id);
        log.error({ issues: parsed.error.issues }, 'job payload is invalid; the job fails without retries');
        observeJob(name, 'invalid_payload', seconds());
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'invalid payload' });
        throw new Error(`invalid payload for ${name}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
      }
      const scope = buildScope({
        deps: ctx.deps,
        request: { id: `job:${job.id}`, ip: ctx.ip, userAgent: `worker ${name}`, origin: null, cookies: {} },
        log,
      });
      const info: JobInfo = { id: job.id, attempts: job.attempts, maxAttempts: job.max_attempts, runAt: job.run_at, signal: helpers.abortSignal };
      try {
        // `unit: false`: the task opens its own short units (./task.ts).
        await (task.unit === false ? task.run(scope, parsed.data, info) : unitOfWork(scope, (unit) => task.run(unit, parsed.data, info)));
      } catch (error) {
        const last = job.attempts >= job.max_attempts;
        log[last ? 'error' : 'warn']({ err: error, durationMs: Math.round(seconds() * 1000) }, last ? 'job failed for good' : 'job failed; it will be retried');
        observeJob(name, 'error', seconds());
        span.recordException(error instanceof Error ? error : new Error(String(error)));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      }
      observeJob(name, 'ok', seconds());
      log.info({ durationMs: Math.round(seconds() * 1000) }, 'job done');
    } finally {
      span.end();
    }
  });
}

/** Every crontab line of the application for this configuration: the cross-cutting ones and the modules'. */
export function schedulesFor(config: Config): readonly Schedule[] {
  return [...systemSchedules, ...jobSchedules(config)];
}

/** Starts the worker: it installs nothing (the migrations did), then runs jobs and the crontab until stopped. */
export async function startWorker(options: JobWorkerOptions): Promise<JobWorker> {
  const tasks = options.tasks ?? new Map([...systemTasks, ...jobTasks] as [string, TaskDefinition<AppLoaders>][]);
  const { schedules } = options;
  const ctx: RunContext = { deps: options.deps, log: options.log, ip: hostAddress() };
  const taskList: TaskList = {};
  for (const [name, task] of tasks) taskList[name] = (payload, helpers) => runJob(name, task, payload, helpers, ctx);
  const { concurrency, pollIntervalMs, shutdownTimeoutMs } = options.config;
  // The worker's own pool, on the direct connection: one connection per running job (its
  // completion), plus LISTEN and the crontab's. Owned here, so it is closed only after the runner
  // has stopped, and an idle connection the server ends (a restart, an embedded PostgreSQL
  // stopping) is logged instead of crashing the process.
  const pgPool = new pg.Pool({ connectionString: options.connectionString, max: concurrency + 2 });
  pgPool.on('error', (error) => options.log.debug({ err: error }, 'job worker: an idle connection ended'));
  // A checked-out connection's error reaches its query (graphile-worker handles it); this keeps it from being unhandled.
  pgPool.on('connect', (client) => client.on('error', (error) => options.log.debug({ err: error }, 'job worker: a connection ended')));
  // The pool's lease, so that other workers can tell when this process has died (./recovery.ts).
  const lease = workerLease(options.connectionString, options.log);
  let runner: Runner;
  try {
    runner = await run({
      events: lease.events,
      pgPool,
      concurrency,
      pollInterval: pollIntervalMs,
      // The process owns its signals (src/main.ts, src/worker.ts) and calls stop().
      noHandleSignals: true,
      taskList,
      parsedCronItems: parseSchedules(schedules),
      logger: workerLogger(options.log),
      // A running job's `signal` aborts when its time to finish is up.
      gracefulShutdownAbortTimeout: shutdownTimeoutMs,
      // Unbatched, a job's completion (or failure) is written without being awaited, and a
      // shutdown right after the job can lose it: the job would run again. Batched (even with
      // no delay), the pool flushes the batch before it closes.
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
  } catch (error) {
    await lease.release();
    await pgPool.end();
    throw error;
  }
  const unwatchDead = watchDeadWorkers(options.deps.db, options.log, options.config.recoveryIntervalMs ?? DEFAULT_RECOVERY_INTERVAL_MS);
  const loops = options.loops ?? (options.tasks ? new Map<string, WorkerLoop<AppLoaders>>() : workerLoops);
  const running = [...loops].map(([name, loop]) => ({ name, loop: loop.start({ deps: options.deps, log: options.log.child({ loop: name }), concurrency }) }));
  options.log.info({ tasks: [...tasks.keys()], loops: [...loops.keys()], schedules: schedules.length, concurrency }, 'job worker running');
  const stopped = runner.promise.catch((error: unknown) => options.log.error({ err: error }, 'job worker stopped on an error'));
  let stopping: Promise<void> | undefined;
  return {
    stopped,
    stop() {
      stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), shutdownTimeoutMs);
        });
        // The loops stop beside the runner: what they were running finishes within the same time.
        const loopsStopped = Promise.all(
          running.map(({ name, loop }) => loop.stop().catch((error: unknown) => options.log.error({ err: error, loop: name }, 'worker loop failed to stop'))),
        );
        // stop() rejects when the runner has stopped already (on its own, after an error).
        const outcome = await Promise.race([runner.stop().then(() => 'stopped' as const, () => 'stopped' as const), timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          options.log.warn({ timeoutMs: shutdownTimeoutMs }, 'jobs still running at WORKER_SHUTDOWN_TIMEOUT_MS: releasing them for a later run');
          await runner.kill('shutdown timeout');
        }
        await stopped;
        await loopsStopped;
        await unwatchDead();
        await lease.release();
        await pgPool.end();
        options.log.info('job worker stopped');
      })();
      return stopping;
    },
  };
}
