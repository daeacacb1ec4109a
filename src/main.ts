import { loadConfig } from './config/config.js';
import { buildApp } from './app.js';
import { openDatabase } from './db/bootstrap.js';
import { migrateToLatest } from './db/migrator.js';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, seedDemoData } from './db/seed.js';
import { createLogger } from './observability/logger.js';
import { startTracing } from './observability/tracing.js';
import { assertCanListen, describeStartupError } from './startup/startup-errors.js';

let databaseUrl: string | undefined;

async function main(): Promise<void> {
  const config = loadConfig();
  databaseUrl = config.databaseUrl;
  const logger = createLogger(config);
  const started = Date.now();
  // A busy port is reported before minutes of migrations and seeding, not after.
  await assertCanListen(config.host, config.port, { host: 'HOST', port: 'PORT' });
  if (config.metrics.port !== undefined) {
    await assertCanListen(config.metrics.host, config.metrics.port, { host: 'METRICS_HOST', port: 'METRICS_PORT' });
  }
  const tracing = await startTracing(config.tracing);

  const database = await openDatabase(config, logger);
  const { db } = database;
  if (config.migrateOnStart) {
    const { results } = await migrateToLatest(db);
    logger.info({ applied: results?.map((r) => r.migrationName) ?? [] }, 'database schema is current');
  }
  if (config.seedDemoData) {
    await seedDemoData(db, logger);
    logger.info(
      { password: undefined, accounts: DEMO_ACCOUNTS.map((a) => `${a.email} (${a.role})`) },
      `demo accounts (password "${DEMO_PASSWORD}")`,
    );
  }

  const app = await buildApp({ config, db, logger });
  await app.listen({ host: config.host, port: config.port });
  const shownHost = config.host === '0.0.0.0' ? 'localhost' : config.host;
  logger.info(
    { startupMs: Date.now() - started, ide: config.graphqlIde, tracing: tracing.enabled },
    `GraphQL API ready at http://${shownHost}:${config.port}/graphql`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      await database.close();
      await tracing.shutdown();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  // One line naming the variable or the fix, never a stack.
  console.error(describeStartupError(error, { databaseUrl }));
  process.exit(1);
});
