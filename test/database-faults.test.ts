/**
 * The database going away under a running server: connections killed by the
 * server (pg_terminate_backend, as in a restart or failover), the server
 * gone (closed port), the server not answering (pool timeouts). The process
 * must survive, answer 503 SERVICE_UNAVAILABLE with Retry-After meanwhile
 * (never 500), report not ready, and serve again as soon as the database is back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { createDb, PoolShare, runWithPoolShare, withDatabaseName } from '../src/db/connection.js';
import { createAccount, type Account } from './helpers/auth.js';
import { seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';

const CATALOG = `query Catalog { products(first: 10) { totalCount edges { node { id title seller { displayName } category { name } } } } }`;
const VIEWER = `query Viewer { viewer { id email sessions { id } } }`;

type Outcome = { status: number; code: string | undefined; retryAfter: string | null };

function outcome(result: GraphQLResult<unknown>): Outcome {
  const code = result.body.errors?.[0]?.extensions?.['code'];
  return { status: result.status, code: typeof code === 'string' ? code : undefined, retryAfter: result.headers.get('retry-after') };
}

/** Every outcome is a success or a clean 503 SERVICE_UNAVAILABLE with Retry-After; returns how many were 503. */
function expectSuccessOr503(outcomes: Outcome[]): number {
  for (const o of outcomes) {
    if (o.status === 200 && o.code === undefined) continue;
    expect(o).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
  }
  return outcomes.filter((o) => o.status === 503).length;
}

async function adminClient(serverUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withDatabaseName(serverUrl, 'postgres') });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('database connections terminated under load', () => {
  let server: TestServer;
  let account: Account;
  let admin: pg.Client;
  let databaseName: string;

  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
    const seed = seeder(server.db);
    const seller = await seed.user({ role: 'SELLER' });
    const category = await seed.category();
    for (let i = 0; i < 12; i++) await seed.product({ seller, category });
    account = await createAccount(server);
    admin = await adminClient(process.env.TEST_PG_URL ?? '');
    const { rows } = await sql<{ name: string }>`SELECT current_database() AS name`.execute(server.db);
    databaseName = rows[0]?.name ?? '';
  });

  afterAll(async () => {
    await admin?.end();
    await server?.close();
  });

  /** Terminates every session on the test database: the application's pool and the test's own. */
  async function terminateAll(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid()) AS t`,
      [databaseName],
    );
    return rows[0]?.n ?? 0;
  }

  it('keeps serving: requests in flight get 503 or succeed, later ones succeed, readiness recovers', async () => {
    const ROUNDS = 4;
    const CONCURRENT = 16;
    let unavailable = 0;
    let terminated = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let running = true;
      const outcomes: Outcome[] = [];
      // 16 clients, each sending one request after another (anonymous catalogue and signed-in viewer).
      const clients = Array.from({ length: CONCURRENT }, async (_, i) => {
        while (running) {
          const result = i % 2 === 0 ? await server.graphql(CATALOG) : await server.graphql(VIEWER, undefined, { headers: account.headers });
          outcomes.push(outcome(result));
        }
      });
      // Kill every backend again and again while they run.
      for (let kill = 0; kill < 8; kill++) {
        await sleep(25);
        terminated += await terminateAll();
      }
      running = false;
      await Promise.all(clients);
      unavailable += expectSuccessOr503(outcomes);

      // Right after: every request succeeds, and the server says it is ready.
      const after = await Promise.all(Array.from({ length: CONCURRENT }, () => server.graphql(CATALOG)));
      for (const result of after) expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
      expect(after[0]?.body.data).toMatchObject({ products: { totalCount: 12 } });
      const ready = await server.request('/health/ready');
      expect(ready.status).toBe(200);
    }
    // The rounds did hit connections in use (otherwise this test proved nothing).
    expect(terminated).toBeGreaterThan(ROUNDS);
    expect(unavailable).toBeGreaterThan(0);
    const viewer = await server.graphql<{ viewer: { email: string } }>(VIEWER, undefined, { headers: account.headers });
    expect(viewer.body.data?.viewer.email).toBe(account.email);
  });
});

describe('database down', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let account: Account;

  beforeAll(async () => {
    const direct = new URL(process.env.TEST_PG_URL ?? '');
    proxy = await TcpProxy.create({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.forward();
    server = await startTestServer({ appDatabaseUrl: (url) => throughProxy(url, proxy) });
    await seeder(server.db).product();
    account = await createAccount(server);
  });

  afterAll(async () => {
    await server?.close();
    await proxy?.stop();
  });

  it('answers 503 with Retry-After and reports not ready while the port is closed, then recovers at once', async () => {
    expect((await server.graphql(CATALOG)).status).toBe(200);
    await proxy.stop();

    const down = await server.graphql(CATALOG);
    expect(outcome(down)).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
    expect(down.body.errors?.[0]?.message).toBe('The service is temporarily unavailable; retry later.');
    expect(down.body.errors?.[0]?.extensions?.['requestId']).toBe(down.headers.get('x-request-id'));
    // Authentication needs the database too (before GraphQL runs): the same answer.
    const signedIn = await server.graphql(VIEWER, undefined, { headers: account.headers });
    expect(outcome(signedIn)).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
    const ready = await server.request('/health/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect((await server.request('/health/live')).status).toBe(200);

    // The database is back: the very next requests succeed, no restart, no back-off.
    await proxy.forward();
    expect((await server.request('/health/ready')).status).toBe(200);
    const again = await server.graphql<{ products: { totalCount: number } }>(CATALOG);
    expect(again.status).toBe(200);
    expect(again.body.data?.products.totalCount).toBe(1);
  });

  it('cuts connections in use when the server stops, and recovers when it returns', async () => {
    const inFlight = Array.from({ length: 16 }, () => server.graphql(CATALOG));
    await proxy.stop();
    expectSuccessOr503((await Promise.all(inFlight)).map(outcome));
    expect((await server.request('/health/ready')).status).toBe(503);
    await proxy.forward();
    const after = await Promise.all(Array.from({ length: 16 }, () => server.graphql(CATALOG)));
    for (const result of after) expect(result.status).toBe(200);
  });
});

describe('pool timeouts', () => {
  it('answers 503 when no connection can be had within DATABASE_CONNECT_TIMEOUT_MS', async () => {
    const proxy = await TcpProxy.create({ host: '127.0.0.1', port: 1 });
    await proxy.blackhole();
    const server = await startTestServer({
      env: { DATABASE_POOL_MAX: '1', DATABASE_CONNECT_TIMEOUT_MS: '200' },
      appDatabaseUrl: (url) => throughProxy(url, proxy),
    });
    try {
      // One request waits for a connection that never completes, the others for the pool's only slot.
      const results = await Promise.all(Array.from({ length: 4 }, () => server.graphql(CATALOG)));
      for (const result of results) expect(outcome(result)).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
      expect((await server.request('/health/ready')).status).toBe(503);
    } finally {
      await server.close();
      await proxy.stop();
    }
  });
});

describe('pool share per request', () => {
  it('lets work in one request hold at most its share of the pool at once', async () => {
    const url = withDatabaseName(process.env.TEST_PG_URL ?? '', 'postgres');
    /** Ten concurrent statements on a fresh pool of ten; how many distinct connections served them. */
    async function connectionsUsed(share: PoolShare | undefined): Promise<number> {
      const db = createDb({ url, poolMax: 10, statementTimeoutMs: 10_000 });
      try {
        const run = () =>
          Promise.all(
            Array.from({ length: 10 }, () =>
              sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)`.execute(db).then((r) => r.rows[0]?.pid),
            ),
          );
        const pids = await (share ? runWithPoolShare(share, run) : run());
        return new Set(pids).size;
      } finally {
        await db.destroy();
      }
    }
    expect(await connectionsUsed(new PoolShare(2))).toBe(2);
    // Outside a request nothing is held back: the same work spreads over the pool.
    expect(await connectionsUsed(undefined)).toBeGreaterThan(2);
  });

  it('fails a request that waits too long for its share, as unavailable', async () => {
    const share = new PoolShare(1, 100);
    const hold = await share.acquire();
    await expect(share.acquire()).rejects.toThrow(/timeout exceeded when trying to connect/);
    hold();
    const next = await share.acquire();
    next();
  });
});
