/**
 * Per-test-file databases. test/global-setup.ts migrates one template database
 * per run; each call here clones it (CREATE DATABASE … TEMPLATE) into a new,
 * uniquely named database, so test files never see each other's rows and
 * can run in parallel.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

import { createDatabaseFromTemplate, dropDatabase } from '../../src/db/admin.js';
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
          await dropDatabase(serverUrl, name);
        }
      })();
      return dropped;
    },
  };
}

/** Drops every per-file database of the run that uses `template` (used by global teardown). */
export async function dropLeftoverTestDatabases(serverUrl: string, template: string): Promise<string[]> {
  const admin = createDb({ url: withDatabaseName(serverUrl, 'postgres'), poolMax: 1, statementTimeoutMs: 30_000 });
  let names: string[];
  try {
    const pattern = `${testDatabasePrefix(template).replace(/_/g, '\\_')}%`;
    const { rows } = await sql<{ datname: string }>`
      SELECT datname FROM pg_database WHERE datname LIKE ${pattern}`.execute(admin);
    names = rows.map((row) => row.datname);
  } finally {
    await admin.destroy();
  }
  for (const name of names) await dropDatabase(serverUrl, name);
  return names;
}
