/**
 * The worker as its own process: an API started with WORKER=off enqueues
 * but runs no job (it does not even listen for them), `npm run worker` runs
 * them; on SIGTERM the worker takes no new job, lets a running one finish
 * within WORKER_SHUTDOWN_TIMEOUT_MS or releases it for a later run, and
 * exits 0. A running job is held mid-statement by a table lock the test
 * takes on `sessions`, which the session purge deletes from.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { launchApi, type ApiChild } from './helpers/api-child.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { launchWorker, until, type WorkerChild } from './helpers/worker-child.js';

jest.setTimeout(120_000);

const TASK = 'accounts.purgeSessions';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

type Child = ApiChild | WorkerChild;

/** The API (over the test defaults: the worker polls every 200 ms, no drain delay, its own signing keys) or the worker. */
async function launch(database: TestDatabase, command: 'api' | 'worker', env: Record<string, string> = {}): Promise<Child> {
  const settings = {
    DATABASE_URL: database.url,
    JWT_SIGNING_KEYS: await generateSigningJwks('EdDSA'),
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    WORKER_POLL_INTERVAL_MS: '200',
    ...env,
  };
  const started =
    command === 'api' ? await launchApi({ env: settings, readyWhen: '"msg":"GraphQL API ready' }) : await launchWorker(settings, { npm: true });
  cleanups.push(async () => {
    if (started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGKILL');
      await started.exited;
    }
  });
  return started;
}

async function setUp(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database;
}

async function enqueuePurge(database: TestDatabase): Promise<string> {
  const result = await sql<{ id: string }>`SELECT (graphile_worker.add_job(${TASK}, '{}'::json)).id::text AS id`.execute(database.db);
  return result.rows[0]?.id ?? '';
}

async function jobRow(database: TestDatabase, id: string) {
  const result = await sql<{ attempts: number; locked_at: Date | null; last_error: string | null }>`
    SELECT attempts, locked_at, last_error FROM graphile_worker.jobs WHERE id = ${id}::bigint`.execute(database.db);
  return result.rows[0];
}

/** Backends of this database listening for new jobs (graphile-worker's LISTEN connection). */
async function listeners(database: TestDatabase): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%LISTEN "jobs:insert"%' AND query NOT LIKE '%UNLISTEN%'`.execute(database.db);
  return Number(result.rows[0]?.n ?? 0);
}

/** Holds `sessions` locked until the returned function is called: the purge's DELETE waits behind it. */
async function lockSessions(database: TestDatabase): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE');
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await client.query('COMMIT');
    await client.end();
  };
  cleanups.push(release);
  return release;
}

/** The purge job is running: locked by a worker, its DELETE waiting for the test's lock. */
async function runningAndBlocked(database: TestDatabase, id: string): Promise<true | undefined> {
  const job = await jobRow(database, id);
  const waiting = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM sessions%'`.execute(database.db);
  return job?.locked_at && waiting.rows[0]?.n !== '0' ? true : undefined;
}

describe('the worker in its own process', () => {
  it('runs the jobs an API started with WORKER=off enqueues and does not run', async () => {
    const database = await setUp();
    const api = await launch(database, 'api', { WORKER: 'off' });
    expect(api.output()).toContain('WORKER=off');
    const id = await enqueuePurge(database);
    // The API has no worker: nothing listens for new jobs, and the job waits untouched.
    expect(await listeners(database)).toBe(0);
    expect(await jobRow(database, id)).toMatchObject({ attempts: 0, locked_at: null });

    const worker = await launch(database, 'worker');
    await until('the worker to run the job', async () => ((await jobRow(database, id)) === undefined ? true : undefined), worker.output);
    expect(worker.output()).toContain(`"jobId":"${id}","task":"${TASK}"`);
    expect(api.output()).not.toContain('"msg":"job done"');
    expect(await listeners(database)).toBe(1);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  });

  it('on SIGTERM lets a running job finish, takes no other, and exits 0', async () => {
    const database = await setUp();
    const release = await lockSessions(database);
    const worker = await launch(database, 'worker', { WORKER_SHUTDOWN_TIMEOUT_MS: '60000', DATABASE_STATEMENT_TIMEOUT_MS: '60000' });
    const id = await enqueuePurge(database);
    await until('the job to run and wait for the lock', () => runningAndBlocked(database, id), worker.output);

    worker.child.kill('SIGTERM');
    await until('the worker to stop taking jobs', () => (worker.output().includes('stopping the job worker') ? true : undefined), worker.output);
    // Enqueued after the signal: left for another worker.
    const later = await enqueuePurge(database);
    await release();

    expect(await worker.exited).toBe(0);
    expect(await jobRow(database, id)).toBeUndefined();
    expect(worker.output()).toContain(`"jobId":"${id}","task":"${TASK}","attempt":1,"durationMs"`);
    expect(await jobRow(database, later)).toMatchObject({ attempts: 0, locked_at: null });
  });

  it('on SIGTERM releases a job still running at WORKER_SHUTDOWN_TIMEOUT_MS, exits 0, and the job runs again later', async () => {
    const database = await setUp();
    const release = await lockSessions(database);
    const worker = await launch(database, 'worker', { WORKER_SHUTDOWN_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '3000' });
    const id = await enqueuePurge(database);
    await until('the job to run and wait for the lock', () => runningAndBlocked(database, id), worker.output);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('releasing them for a later run');
    // Released: unlocked, its attempt counted as failed, due again after a backoff.
    const released = await jobRow(database, id);
    expect(released).toMatchObject({ attempts: 1, locked_at: null });
    expect(released?.last_error).not.toBeNull();

    await release();
    const next = await launch(database, 'worker');
    await until('the released job to run again', async () => ((await jobRow(database, id)) === undefined ? true : undefined), next.output);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });
});
