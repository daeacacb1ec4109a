/**
 * The job worker as its own process: `npm run worker` (tsx) or
 * `npm run start:worker` (the build), beside API instances started with
 * WORKER=off. It serves no HTTP (only /metrics on METRICS_PORT when set),
 * builds its jobs' scopes like the API's (same pool settings, auth runtime,
 * loaders, event sinks; the change feed reaches a Redis response cache) and
 * LISTENs on a direct connection (WORKER_DATABASE_URL, else
 * DATABASE_DIRECT_URL, else DATABASE_URL).
 *
 * SIGTERM/SIGINT: it takes no new job, gives the running ones
 * WORKER_SHUTDOWN_TIMEOUT_MS to finish, releases those still running for a
 * later run (by this worker or another), closes its connections and exits 0.
 * docs/operations/worker.md.
 */
import type { Server } from 'node:http';

import { createAuthRuntime, type AuthRuntime } from './auth/runtime.js';
import { createInvalidationFeed } from './cache/setup.js';
import { loadConfig } from './config/config.js';
import { openDatabase, withSessionDatabase, workerDatabaseUrl, type DatabaseHandle } from './db/bootstrap.js';
import { migrateToLatest, migrationRunOptions } from './db/migrator.js';
import { watchQueueDepth } from './jobs/depth.js';
import { schedulesFor, startWorker, type JobWorker } from './jobs/worker.js';
import { createLoaders, eventSinks, transitionDefinitions } from './modules/registry.js';
import { createMetricsListener } from './observability/http-observability.js';
import { createLogger } from './observability/logger.js';
import { startTracing, type Tracing } from './observability/tracing.js';
import { closeRedisClient, createRedisClient, type RedisClient } from './redis/client.js';
import { describeStartupError } from './startup/startup-errors.js';
import { watchTransitions } from './transitions/watcher.js';

/** Closed in reverse order of opening on a signal or a failed start. */
const opened: Array<() => Promise<unknown>> = [];
let worker: JobWorker | undefined;
let signalled: string | undefined;
let databaseUrl: string | undefined;

async function closeAll(): Promise<void> {
  for (const close of opened.reverse()) await close().catch(() => undefined);
  opened.length = 0;
}

async function main(): Promise<void> {
  const config = loadConfig();
  databaseUrl = config.databaseUrl;
  const logger = createLogger(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.worker.shutdownTimeoutMs }, 'stopping the job worker: no new jobs; running ones finish or are released');
    const deadline = setTimeout(() => {
      logger.error('worker shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.worker.shutdownTimeoutMs + 15_000);
    deadline.unref();
    try {
      await worker?.stop();
      await closeAll();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      signalled ??= signal;
      if (worker) void stop(signal);
    });
  }
  if (config.databaseUrl === undefined) {
    // A second embedded PostgreSQL on the API's data directory cannot start; WORKER=on runs the worker in `npm start` itself.
    throw new Error('The worker process needs DATABASE_URL (the embedded PostgreSQL belongs to `npm start`, which runs the worker itself with WORKER=on)');
  }

  const tracing: Tracing = await startTracing(config.tracing);
  opened.push(() => tracing.shutdown());
  const database: DatabaseHandle = await openDatabase(config, logger);
  opened.push(() => database.close());
  if (config.migrateOnStart) {
    const { waiting } = await withSessionDatabase(config, database, (session) => migrateToLatest(session, migrationRunOptions(config)));
    if (waiting) logger.warn({ waiting }, 'database schema is current but for a migration that waits');
  }
  const redis: RedisClient | undefined = config.redisUrl ? createRedisClient(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs }) : undefined;
  if (redis) opened.push(() => closeRedisClient(redis));
  const auth: AuthRuntime = await createAuthRuntime(config, redis ? { redis } : {});
  opened.push(() => auth.close());
  const changes = createInvalidationFeed(config.responseCache, redis, logger);
  const unwatch = watchQueueDepth(database.db);
  opened.push(async () => unwatch());
  // Which shape the jobs' services read and write (src/transitions/): read now, then every TRANSITION_REFRESH_MS.
  const transitions = await watchTransitions(database.db, transitionDefinitions, { refreshMs: config.transitionRefreshMs, log: logger });
  opened.push(async () => transitions.close());

  if (config.metrics.port !== undefined) {
    const { port, host } = config.metrics;
    const server: Server = createMetricsListener(config.metrics, logger);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    opened.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    logger.info({ host, port }, 'metrics listener ready');
  }

  worker = await startWorker({
    deps: { db: database.db, auth, createLoaders, eventSinks, transitions, webhooks: config.webhooks, ...(changes ? { changes } : {}) },
    log: logger,
    connectionString: workerDatabaseUrl(config, database.url),
    config: config.worker,
    schedules: schedulesFor(config),
  });
  if (signalled !== undefined) await stop(signalled);
  // A worker that stops on its own (a fatal database error) ends the process, so the platform restarts it.
  void worker.stopped.then(async () => {
    if (stopping) return;
    logger.error('the job worker stopped on its own; exiting');
    await closeAll();
    process.exit(1);
  });
}

main().catch(async (error: unknown) => {
  await worker?.stop().catch(() => undefined);
  await closeAll();
  console.error(describeStartupError(error, { databaseUrl }));
  process.exit(1);
});
