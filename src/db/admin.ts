import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

import { withDatabaseName } from './connection.js';

/**
 * Cluster-level administration (databases, not rows): used at start-up by the
 * embedded server and by the test harness to clone per-file databases.
 */
async function withAdmin<T>(url: string, work: (db: Kysely<object>) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: withDatabaseName(url, 'postgres'), max: 1 });
  // pool.end() resolves before its socket is gone; a server stopping in that
  // gap must not surface as an unhandled 'error' event.
  pool.on('error', () => undefined);
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

async function databaseExists(db: Kysely<object>, name: string): Promise<boolean> {
  const { rows } = await sql<{ found: number }>`SELECT 1 AS found FROM pg_database WHERE datname = ${name}`.execute(db);
  return rows.length > 0;
}

/** CREATE DATABASE if it does not exist yet (PostgreSQL has no IF NOT EXISTS for it). */
export async function ensureDatabase(url: string, name: string): Promise<void> {
  await withAdmin(url, async (db) => {
    if (!(await databaseExists(db, name))) await sql`CREATE DATABASE ${sql.id(name)}`.execute(db);
  });
}

/** A new database copied from `template` (which must have no open connections). */
export async function createDatabaseFromTemplate(url: string, name: string, template: string): Promise<void> {
  await withAdmin(url, (db) => sql`CREATE DATABASE ${sql.id(name)} TEMPLATE ${sql.id(template)}`.execute(db));
}

export async function dropDatabase(url: string, name: string): Promise<void> {
  await withAdmin(url, (db) => sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(db));
}

/**
 * Waits (up to `timeoutMs`) until no other client session is connected, so
 * that stopping a server does not terminate connections that are still
 * closing (a destroyed pool does not wait for its sockets). Returns how many
 * were still there.
 */
export async function waitForOtherSessionsToEnd(url: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return withAdmin(url, async (db) => {
    for (;;) {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`.execute(db);
      const others = rows[0]?.n ?? 0;
      if (others === 0 || Date.now() >= deadline) return others;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}
