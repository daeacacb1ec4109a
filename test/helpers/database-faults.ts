/** Shared by the database fault tests (test/database-faults.test.ts, test/database-timeouts.test.ts). */
import { expect, jest } from '@jest/globals';

import pg from 'pg';

import { withDatabaseName } from '../../src/db/connection.js';

import { type GraphQLResult, type LogLine, type TestServer } from './server.js';

export const CATALOG = `query Catalog { products(first: 10) { totalCount edges { node { id title seller { displayName } category { name } } } } }`;
export const VIEWER = `query Viewer { viewer { id email sessions { id } } }`;

export type Outcome = { status: number; code: string | undefined; retryAfter: string | null };

export function outcome(result: GraphQLResult<unknown>): Outcome {
  const code = result.body.errors?.[0]?.extensions?.['code'];
  return { status: result.status, code: typeof code === 'string' ? code : undefined, retryAfter: result.headers.get('retry-after') };
}

/** Every outcome is a success or a clean 503 SERVICE_UNAVAILABLE with Retry-After; returns how many were 503. */
export function expectSuccessOr503(outcomes: Outcome[]): number {
  for (const o of outcomes) {
    if (o.status === 200 && o.code === undefined) continue;
    expect(o).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
  }
  return outcomes.filter((o) => o.status === 503).length;
}

export async function adminClient(serverUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withDatabaseName(serverUrl, 'postgres') });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Each test here runs a fixed amount of work, never a timed one: on a loaded machine it takes longer, never differently.
jest.setTimeout(120_000);

export const METRICS_TOKEN = 'database-faults-metrics-token-0123456789';

/**
 * For servers whose test is not about connect timeouts: on a loaded machine
 * opening a PostgreSQL connection can take seconds, and a slow new connection
 * must not pass for an outage (the default is 5 s).
 */
export const SLOW_MACHINE = { DATABASE_CONNECT_TIMEOUT_MS: '60000' };

/** The value of one series in /metrics (0 when absent); counters are per process, so tests compare before and after. */
export async function metric(server: TestServer, series: string): Promise<number> {
  const res = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** pino levels: 40 warn, 50 error, 60 fatal. */
export const atLeast = (level: number) => (line: LogLine) => typeof line['level'] === 'number' && line['level'] >= level;

/** Polls until `check` holds: waits on the condition, never on a guessed duration. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
