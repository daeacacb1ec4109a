import type { Kysely } from 'kysely';

import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { currentSetting } from './cluster.repository.js';
import { createDb, type ConnectionOptions } from './connection.js';
import type { Database } from './database.js';
// Type only: the embedded PostgreSQL (a development dependency) is loaded on demand, never when DATABASE_URL is set.
import type { EmbeddedDatabase } from './embedded.js';
import { createReplicatedDb, type ReadReplicas } from './replicas.js';

export const EMBEDDED_DATABASE_NAME = 'marketplace';

export interface DatabaseHandle {
  /** The application's handle (src/db/replicas.ts routes its reads when READ_DATABASE_URL is set). */
  db: Kysely<Database>;
  /** The URL connected to: DATABASE_URL, or the embedded PostgreSQL's. */
  url: string;
  /** Set when the server started its own embedded PostgreSQL. */
  embedded: EmbeddedDatabase | undefined;
  close(): Promise<void>;
}

export interface AppDatabase {
  /** The primary's pool, or with READ_DATABASE_URL the primary and its replicas behind one routed instance. */
  db: Kysely<Database>;
  replicas: ReadReplicas | undefined;
  /** Stops the replica monitor and ends every pool. */
  destroy(): Promise<void>;
}

/** How the application's pools connect, from the configuration; `url` is DATABASE_URL or the embedded PostgreSQL's. */
export function connectionOptions(config: Config, url: string, log?: Logger): ConnectionOptions {
  return {
    url,
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    pooler: config.databasePooler,
    // One warning when the database goes away, one info line when it is back (src/db/availability.ts).
    ...(log ? { log } : {}),
  };
}

/** The application's database handle for `url`: one pool, or the primary and READ_DATABASE_URL's replicas. */
export function createAppDatabase(config: Config, url: string, log: Logger): AppDatabase {
  const options = connectionOptions(config, url, log);
  if (config.readReplicas.urls.length === 0) {
    const db = createDb(options);
    return { db, replicas: undefined, destroy: () => db.destroy() };
  }
  const replicas = createReplicatedDb({ primary: options, urls: config.readReplicas.urls, maxLagMs: config.readReplicas.maxLagMs, log });
  return {
    db: replicas.db,
    replicas,
    destroy: async () => {
      try {
        await replicas.close();
      } finally {
        await replicas.db.destroy();
      }
    },
  };
}

/**
 * Where sessions that need their own state go: LISTEN, migrations (a
 * session advisory lock and session timeouts), the job worker (LISTEN, its
 * lease). DATABASE_DIRECT_URL behind a transaction pooler, else the
 * database's own URL.
 */
export function directUrl(config: Config, url: string): string {
  if (config.databasePooler !== 'transaction') return url;
  if (config.databaseDirectUrl === undefined) throw new Error('DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL');
  return config.databaseDirectUrl;
}

/** The job worker's direct connection: WORKER_DATABASE_URL, else DATABASE_DIRECT_URL, else the database's own URL. */
export function workerDatabaseUrl(config: Config, url: string): string {
  return config.worker.databaseUrl ?? directUrl(config, url);
}

/**
 * Runs `work` (migrations) on a handle whose session keeps its state: the
 * application's own, or behind a transaction pooler a short-lived pool on
 * DATABASE_DIRECT_URL (two connections: the run's, and the statements that
 * name a blocking session).
 */
export async function withSessionDatabase<T>(config: Config, handle: Pick<DatabaseHandle, 'db' | 'url'>, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  if (config.databasePooler !== 'transaction') return work(handle.db);
  const db = createDb({ ...connectionOptions(config, directUrl(config, handle.url)), pooler: 'none', poolMax: 2 });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/**
 * Behind a transaction pooler, statements outside a transaction run with
 * the role's own `statement_timeout` (the server sets it only in
 * transactions, with SET LOCAL): a warning at start when it is off, naming
 * the fix. A database that does not answer is reported by the pool.
 */
export async function checkPooledSessions(config: Config, db: Kysely<Database>, log: Logger): Promise<void> {
  if (config.databasePooler !== 'transaction') return;
  let timeout: string;
  try {
    timeout = await currentSetting(db, 'statement_timeout');
  } catch {
    return;
  }
  if (timeout === '0') {
    log.warn(
      { statementTimeoutMs: config.databaseStatementTimeoutMs },
      'DATABASE_POOLER=transaction: statements outside a transaction have no statement_timeout; set it for the role (ALTER ROLE <user> SET statement_timeout = \'10s\')',
    );
  }
}

/** Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is not set. */
export async function openDatabase(config: Config, log: Logger): Promise<DatabaseHandle> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (url === undefined) {
    const { startEmbeddedPostgres } = await import('./embedded.js');
    embedded = await startEmbeddedPostgres({
      dir: config.embeddedPgDir,
      port: config.embeddedPgPort,
      database: EMBEDDED_DATABASE_NAME,
      persistent: true,
      log,
    });
    url = embedded.url;
    log.info({ port: config.embeddedPgPort, dir: embedded.dir }, 'embedded PostgreSQL is running');
  }
  const database = createAppDatabase(config, url, log);
  return {
    db: database.db,
    url,
    embedded,
    // The pools first, the embedded server last: nothing may still be talking to it.
    close: async () => {
      try {
        await database.destroy();
      } finally {
        await embedded?.stop();
      }
    },
  };
}
