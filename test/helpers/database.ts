/**
 * Per-test-file databases. test/global-setup.ts migrates one template database
 * per run; each call here clones it (CREATE DATABASE … TEMPLATE) into a new,
 * uniquely named database, so test files never see each other's rows and
 * can run in parallel.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';

import { createDatabaseFromTemplate } from '../../src/db/admin.js';
import { createDb, withDatabaseName } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';

export interface TestDatabase {
  name: string;
  url: string;
  db: Kysely<Database>;
  /** Closes the pool and drops the database; safe to call twice. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Name from newTestDatabaseName(), when the URL is needed before the database exists. */
  name?: string;
  /** An empty database (cloned from template0) instead of the migrated template. */
  empty?: boolean;
  poolMax?: number;
  statementTimeoutMs?: number;
}

function requiredEnv(name: 'TEST_PG_URL' | 'TEST_PG_TEMPLATE'): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through jest, whose globalSetup (test/global-setup.ts) sets it`);
  }
  return value;
}

/** Per-file databases of a run share a prefix derived from its template, so teardown can find leftovers. */
function testDatabasePrefix(template: string): string {
  return `mp_t_${template.replace(/^mp_tpl_/, '')}_`;
}

export function newTestDatabaseName(): string {
  // PostgreSQL identifiers are at most 63 bytes; the prefix is ~24.
  return `${testDatabasePrefix(requiredEnv('TEST_PG_TEMPLATE'))}${process.pid}_${randomBytes(5).toString('hex')}`;
}

export function testDatabaseUrl(name: string): string {
  return withDatabaseName(requiredEnv('TEST_PG_URL'), name);
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = requiredEnv('TEST_PG_URL');
  const name = options.name ?? newTestDatabaseName();
  const template = options.empty ? 'template0' : requiredEnv('TEST_PG_TEMPLATE');
  await createDatabaseFromTemplate(serverUrl, name, template);

  const url = withDatabaseName(serverUrl, name);
  const db = createDb({
    url,
    poolMax: options.poolMax ?? 5,
    statementTimeoutMs: options.statementTimeoutMs ?? 15_000,
  });
  let dropped: Promise<void> | undefined;
  return {
    name,
    url,
    db,
    drop: () => {
      dropped ??= (async () => {
        try {
          await db.destroy();
        } finally {
          await dropTestDatabase(serverUrl, name);
        }
      })();
      return dropped;
    },
  };
}

/**
 * One connection to `url` for `work`, closed afterwards. A plain pg.Client,
 * not a pool: Client.end() resolves once the connection is closed, whereas a
 * pool's end() resolves while its clients are still saying goodbye, and a
 * server shutting down in that window makes the pool emit an unhandled
 * 'error' (57P01) that kills the process.
 */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'marketplace-tests',
  });
  // Errors of a query in flight reach its promise; this only keeps a dropped
  // connection from becoming an uncaught 'error' event.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One admin connection to the server's `postgres` database (see `withClient`). */
function withAdminClient<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(withDatabaseName(serverUrl, 'postgres'), work);
}

function isObjectInUse(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === '55006';
}

/**
 * DROP DATABASE, by default first politely: PostgreSQL waits up to 5 s for
 * sessions still closing (a destroyed pool does not wait for its connections
 * to end). Only sessions still open after that are terminated (WITH (FORCE)).
 * `force` terminates them at once. `serverUrl` may name any database.
 */
export async function dropTestDatabase(serverUrl: string, name: string, options: { force?: boolean } = {}): Promise<void> {
  await withAdminClient(serverUrl, async (client) => {
    const id = client.escapeIdentifier(name);
    if (options.force) {
      await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
      return;
    }
    try {
      await client.query(`DROP DATABASE IF EXISTS ${id}`);
    } catch (error) {
      if (!isObjectInUse(error)) throw error;
      await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
    }
  });
}

/** Drops every per-file database of the run that uses `template` (used by global teardown). */
export async function dropLeftoverTestDatabases(serverUrl: string, template: string): Promise<string[]> {
  const pattern = `${testDatabasePrefix(template).replace(/_/g, '\\_')}%`;
  const names = await withAdminClient(serverUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      pattern,
    ]);
    return rows.map((row) => row.datname);
  });
  for (const name of names) await dropTestDatabase(serverUrl, name);
  return names;
}

