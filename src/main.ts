import type { FastifyInstance } from 'fastify';

import { loadConfig, type Config } from './config/config.js';
import { buildApp } from './app.js';
import { checkPooledSessions, openDatabase, withSessionDatabase, workerDatabaseUrl, type DatabaseHandle } from './db/bootstrap.js';
import { migrateToLatest, migrationRunOptions } from './db/migrator.js';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, seedDemoData } from './db/seed.js';
import { schedulesFor, startWorker, type JobWorker } from './jobs/worker.js';
import { createLogger, type Logger } from './observability/logger.js';
import { startTracing, type Tracing } from './observability/tracing.js';
import { assertCanListen, describeStartupError } from './startup/startup-errors.js';

/** After SHUTDOWN_TIMEOUT_MS, how long closing the app, the pool and the embedded PostgreSQL may take. */
const CLOSE_GRACE_MS = 10_000;

let databaseUrl: string | undefined;

/**
 * Graceful shutdown on SIGINT/SIGTERM (src/lifecycle/drain.ts): readiness
 * fails at once and requests keep being served, with `Connection: close`,
 * for SHUTDOWN_DRAIN_DELAY_MS; then new requests get 503, the listener
 * closes, and requests running finish; SHUTDOWN_TIMEOUT_MS after the signal
 * whatever is still open is cut. Then Apollo, the pool and the embedded
 * PostgreSQL close; exit 0. A signal during start-up stops it after the
 * current step (an embedded PostgreSQL must not outlive us). The
 * in-process job worker (WORKER=on) stops taking jobs at the signal and has
 * WORKER_SHUTDOWN_TIMEOUT_MS to finish its running ones (then they are
 * released for a later run), alongside the drain. Repeated
 * signals are ignored: `npm start` in a terminal delivers Ctrl-C twice (once
 * from the terminal, once forwarded by npm).
 */
class Lifecycle {
  private signal: string | undefined;
  private app: FastifyInstance | undefined;
  private database: DatabaseHandle | undefined;
  private tracing: Tracing | undefined;
  private worker: JobWorker | undefined;
  private stopping = false;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => this.onSignal(signal));
  }

  /** Remembers what to close; stops at once if a signal came during start-up. */
  async started(parts: { database?: DatabaseHandle; app?: FastifyInstance; tracing?: Tracing; worker?: JobWorker }): Promise<void> {
    this.database = parts.database ?? this.database;
    this.worker = parts.worker ?? this.worker;
    this.app = parts.app ?? this.app;
    this.tracing = parts.tracing ?? this.tracing;
    if (this.signal !== undefined) await this.stop(this.signal);
  }

  /** Start-up failed: release what was opened. */
  async abandon(): Promise<void> {
    await this.worker?.stop().catch(() => undefined);
    await this.app?.close().catch(() => undefined);
    await this.database?.close().catch(() => undefined);
    await this.tracing?.shutdown().catch(() => undefined);
  }

  private onSignal(signal: string): void {
    this.signal ??= signal;
    // Before the app listens, start-up notices the signal after its current step.
    if (this.app !== undefined) void this.stop(signal);
  }

  private async stop(signal: string): Promise<never> {
    if (this.stopping) return new Promise<never>(() => undefined);
    this.stopping = true;
    const { config, logger } = this;
    const deadline = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + CLOSE_GRACE_MS);
    deadline.unref();
    try {
      // The worker takes no new job from now on; its running jobs finish (or are released) during the drain.
      const workerStopped = this.worker?.stop();
      if (this.app) {
        const { drain } = this.app;
        logger.info(
          { signal, inFlight: drain.inFlight, drainDelayMs: config.shutdownDrainDelayMs, timeoutMs: config.shutdownTimeoutMs },
          'shutting down: readiness fails; serving during the drain delay',
        );
        const report = await drain.shutdown({ delayMs: config.shutdownDrainDelayMs, timeoutMs: config.shutdownTimeoutMs });
        if (report.cut > 0) {
          logger.warn(report, 'SHUTDOWN_TIMEOUT_MS reached: cut the connections still busy');
        } else {
          logger.info(report, 'shutting down: every connection has ended');
        }
        await workerStopped;
        await this.app.close();
      } else {
        logger.info({ signal }, 'stopping during start-up');
      }
      await workerStopped;
      await this.database?.close();
      await this.tracing?.shutdown();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  databaseUrl = config.databaseUrl;
  const logger = createLogger(config);
  const started = Date.now();
  const lifecycle = new Lifecycle(config, logger);
  try {
    // A busy port is reported before minutes of migrations and seeding, not after.
    await assertCanListen(config.host, config.port, { host: 'HOST', port: 'PORT' });
    if (config.metrics.port !== undefined) {
      await assertCanListen(config.metrics.host, config.metrics.port, { host: 'METRICS_HOST', port: 'METRICS_PORT' });
    }
    const tracing = await startTracing(config.tracing);
    await lifecycle.started({ tracing });

    const database = await openDatabase(config, logger);
    await lifecycle.started({ database });
    const { db } = database;
    if (config.migrateOnStart) {
      // On a direct connection behind a transaction pooler: the run holds a session advisory lock.
      const { results, waiting } = await withSessionDatabase(config, database, (session) => migrateToLatest(session, migrationRunOptions(config)));
      const applied = results?.map((r) => r.migrationName) ?? [];
      if (waiting) logger.warn({ applied, waiting }, 'database schema is current but for a migration that waits');
      else logger.info({ applied }, 'database schema is current');
    }
    await checkPooledSessions(config, db, logger);
    if (config.seedDemoData) {
      await seedDemoData(db, logger);
      logger.info(
        { password: undefined, accounts: DEMO_ACCOUNTS.map((a) => `${a.email} (${a.role})`) },
        `demo accounts (password "${DEMO_PASSWORD}")`,
      );
    }
    await lifecycle.started({});

    const app = await buildApp({ config, db, logger });
    if (config.worker.mode === 'on') {
      // In this process, on the app's scope dependencies; LISTEN on a direct connection (WORKER_DATABASE_URL, else DATABASE_DIRECT_URL or the database's).
      const worker = await startWorker({
        deps: app.scopeDeps,
        log: logger,
        connectionString: workerDatabaseUrl(config, database.url),
        config: config.worker,
        schedules: schedulesFor(config),
      });
      await lifecycle.started({ worker });
    } else {
      logger.info('WORKER=off: jobs are enqueued here and run by `npm run worker` / `npm run start:worker`');
    }
    await app.listen({ host: config.host, port: config.port });
    const shownHost = config.host === '0.0.0.0' ? 'localhost' : config.host;
    logger.info(
      { startupMs: Date.now() - started, ide: config.graphqlIde, tracing: tracing.enabled },
      `GraphQL API ready at http://${shownHost}:${config.port}/graphql`,
    );
    await lifecycle.started({ app });
  } catch (error) {
    await lifecycle.abandon();
    throw error;
  }
}

main().catch((error: unknown) => {
  // One line naming the variable or the fix, never a stack.
  console.error(describeStartupError(error, { databaseUrl }));
  process.exit(1);
});
