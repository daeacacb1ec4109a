import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

import { TracingDialect } from '../observability/sql-tracing.js';
import type { Database } from './database.js';

const pools = new WeakMap<object, pg.Pool>();

/** The pg pool behind a Kysely instance made by createDb (read by the pool gauges of /metrics). */
export function poolOf(db: object): pg.Pool | undefined {
  return pools.get(db);
}

export interface ConnectionOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
}

/**
 * A pg Pool behind Kysely. Sessions run in UTC with a statement timeout, so a
 * runaway query cannot hold a connection forever.
 */
export function createDb(options: ConnectionOptions, onIdleError?: (error: Error) => void): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    options: `-c TimeZone=UTC -c statement_timeout=${options.statementTimeoutMs}`,
    application_name: 'marketplace-api',
  });
  // An idle client can lose its connection (database restart, failover). pg
  // emits that on the pool; unhandled, it would crash the process, while the
  // pool itself replaces the client on the next checkout.
  pool.on('error', (error) => onIdleError?.(error));
  // Each statement is a span when tracing is on (src/observability/sql-tracing.ts).
  const db = new Kysely<Database>({ dialect: new TracingDialect(new PostgresDialect({ pool })) });
  pools.set(db, pool);
  return db;
}

/** Same server, other database: used to reach `postgres` for CREATE DATABASE. */
export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
