import type { Kysely } from 'kysely';

import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { createDb } from './connection.js';
import type { Database } from './database.js';
// Type only: the embedded PostgreSQL (a development dependency) is loaded on demand, never when DATABASE_URL is set.
import type { EmbeddedDatabase } from './embedded.js';

export const EMBEDDED_DATABASE_NAME = 'marketplace';

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** The URL connected to: DATABASE_URL, or the embedded PostgreSQL's. */
  url: string;
  /** Set when the server started its own embedded PostgreSQL. */
  embedded: EmbeddedDatabase | undefined;
  close(): Promise<void>;
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
  const db = createDb({
    url,
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    // One warning when the database goes away, one info line when it is back (src/db/availability.ts).
    log,
  });
  return {
    db,
    url,
    embedded,
    // The pool first, the embedded server last: nothing may still be talking to it.
    close: async () => {
      try {
        await db.destroy();
      } finally {
        await embedded?.stop();
      }
    },
  };
}
