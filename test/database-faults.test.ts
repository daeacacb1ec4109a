/**
 * The database going away under a running server: connections killed by the
 * server (pg_terminate_backend, as in a restart or failover), the server
 * gone (closed port), the server not answering (pool timeouts), idle
 * connections that died unseen. The process must survive, answer 503
 * SERVICE_UNAVAILABLE with Retry-After meanwhile (never 500), report not
 * ready, serve again as soon as the database is back, run reads whose
 * connection died once more on a new one (never writes), and tell an outage
 * in two log lines. Statements that wait past the statement timeout (a lock
 * held elsewhere) are answered 503 too.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { createDb, PoolShare, runWithPoolShare, withDatabaseName } from '../src/db/connection.js';
import { DatabaseUnavailableError } from '../src/db/faults.js';
import { createAccount, type Account } from './helpers/auth.js';
import { testDatabaseUrl } from './helpers/database.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type LogLine, type TestServer } from './helpers/server.js';
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

// Each test here runs a fixed amount of work, never a timed one: on a loaded machine it takes longer, never differently.
jest.setTimeout(120_000);

const METRICS_TOKEN = 'database-faults-metrics-token-0123456789';

/**
 * For servers whose test is not about connect timeouts: on a loaded machine
 * opening a PostgreSQL connection can take seconds, and a slow new connection
 * must not pass for an outage (the default is 5 s).
 */
const SLOW_MACHINE = { DATABASE_CONNECT_TIMEOUT_MS: '60000' };

/** The value of one series in /metrics (0 when absent); counters are per process, so tests compare before and after. */
async function metric(server: TestServer, series: string): Promise<number> {
  const res = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** pino levels: 40 warn, 50 error, 60 fatal. */
const atLeast = (level: number) => (line: LogLine) => typeof line['level'] === 'number' && line['level'] >= level;

/** Polls until `check` holds: waits on the condition, never on a guessed duration. */
async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('database connections terminated under load', () => {
  let server: TestServer;
  let account: Account;
  let admin: pg.Client;
  let databaseName: string;

  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000', METRICS_TOKEN, ...SLOW_MACHINE }, captureLogs: true });
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
    let terminated = 0;
    const lostBefore = await metric(server, 'db_errors_total{reason="connection_lost"}');
    const logsBefore = server.logs.length;
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
      expectSuccessOr503(outcomes);

      // Right after: every request succeeds (a read whose pooled connection was killed runs again on a new one), and the server says it is ready.
      const after = await Promise.all(Array.from({ length: CONCURRENT }, () => server.graphql(CATALOG)));
      for (const result of after) expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
      expect(after[0]?.body.data).toMatchObject({ products: { totalCount: 12 } });
      const ready = await server.request('/health/ready');
      expect(ready.status).toBe(200);
    }
    // The rounds did kill the application's connections (otherwise this test proved nothing).
    expect(terminated).toBeGreaterThan(ROUNDS);
    expect(await metric(server, 'db_errors_total{reason="connection_lost"}')).toBeGreaterThan(lostBefore);
    // A known failure, not a bug: no error lines (stack traces) for it.
    expect(server.logs.slice(logsBefore).filter(atLeast(50))).toEqual([]);
    const viewer = await server.graphql<{ viewer: { email: string } }>(VIEWER, undefined, { headers: account.headers });
    expect(viewer.body.data?.viewer.email).toBe(account.email);
    // Rounds of requests, not timings: a loaded machine takes longer, never differently.
  }, 240_000);
});

describe('database down', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let account: Account;

  beforeAll(async () => {
    const direct = new URL(process.env.TEST_PG_URL ?? '');
    proxy = await TcpProxy.create({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.forward();
    server = await startTestServer({ appDatabaseUrl: (url) => throughProxy(url, proxy), env: { METRICS_TOKEN, ...SLOW_MACHINE }, captureLogs: true });
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
  it('tells an outage in one warning when it starts and one info line when it ends, however many requests fail', async () => {
    expect((await server.graphql(CATALOG)).status).toBe(200);
    const outagesBefore = await metric(server, 'db_outages_total');
    const refusedBefore = await metric(server, 'db_errors_total{reason="connect_failed"}');
    const logsBefore = server.logs.length;
    await proxy.stop();

    // Anonymous reads, signed-in requests (authentication needs the database), readiness probes.
    for (let i = 0; i < 10; i++) {
      const results = await Promise.all([
        server.graphql(CATALOG),
        server.graphql(CATALOG),
        server.graphql(VIEWER, undefined, { headers: account.headers }),
      ]);
      for (const result of results) expect(outcome(result)).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
      expect((await server.request('/health/ready')).status).toBe(503);
    }
    expect(await metric(server, 'db_available')).toBe(0);

    await proxy.forward();
    await waitFor(async () => (await server.request('/health/ready')).status === 200, 'readiness after the database came back');
    expect((await server.graphql(CATALOG)).status).toBe(200);

    const lines = server.logs.slice(logsBefore);
    const loud = lines.filter(atLeast(40));
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatchObject({ level: 40, msg: 'database unavailable: answering 503 until it is back' });
    expect(loud[0]).not.toHaveProperty('err');
    const back = lines.filter((line) => line.msg === 'database available again');
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ level: 30, failures: expect.any(Number), downMs: expect.any(Number) });
    // What happened in between is counted, not logged.
    expect(await metric(server, 'db_outages_total')).toBe(outagesBefore + 1);
    expect(await metric(server, 'db_errors_total{reason="connect_failed"}')).toBeGreaterThanOrEqual(refusedBefore + 40);
    expect(await metric(server, 'db_available')).toBe(1);
  });
});

describe('idle connections that died unseen', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let account: Account;

  beforeAll(async () => {
    const direct = new URL(process.env.TEST_PG_URL ?? '');
    proxy = await TcpProxy.create({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.forward();
    server = await startTestServer({ appDatabaseUrl: (url) => throughProxy(url, proxy), env: { METRICS_TOKEN, ...SLOW_MACHINE } });
    const seed = seeder(server.db);
    const seller = await seed.user({ role: 'SELLER' });
    const category = await seed.category();
    for (let i = 0; i < 3; i++) await seed.product({ seller, category });
    account = await createAccount(server);
  });

  afterAll(async () => {
    await server?.close();
    await proxy?.stop();
  });

  it('runs each read once more on a new connection: every request right after succeeds, readiness too', async () => {
    // Several connections, then idle in the pool.
    const warm = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? server.graphql(VIEWER, undefined, { headers: account.headers }) : server.graphql(CATALOG))));
    for (const result of warm) expect(result.status).toBe(200);
    const retriedBefore = await metric(server, 'db_read_retries_total{outcome="ok"}');
    // Every pooled connection is now dead, and the pool does not know: the next checkouts all meet dead ones.
    expect(proxy.severSilently()).toBeGreaterThan(1);

    const [catalog, viewer] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, () => server.graphql<{ products: { totalCount: number } }>(CATALOG))),
      Promise.all(Array.from({ length: 4 }, () => server.graphql(VIEWER, undefined, { headers: account.headers }))),
    ]);
    for (const result of [...catalog, ...viewer]) expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
    expect(catalog[0]?.body.data?.products.totalCount).toBe(3);
    expect(proxy.severSilently()).toBeGreaterThan(0);
    expect((await server.request('/health/ready')).status).toBe(200);
    expect(await metric(server, 'db_read_retries_total{outcome="ok"}')).toBeGreaterThan(retriedBefore);
  });

  it('never runs a write again, nor a statement inside a transaction', async () => {
    const db = createDb({ url: throughProxy(testDatabaseUrl(server.databaseName), proxy), poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 60_000 });
    const slug = `written-once-${Date.now()}`;
    try {
      await sql`SELECT 1`.execute(db);
      proxy.severSilently();
      // The INSERT meets the dead connection: running it on another could apply it twice, so it fails.
      await expect(db.insertInto('categories').values({ name: 'Written once', slug }).execute()).rejects.toBeInstanceOf(DatabaseUnavailableError);
      const written = await server.db.selectFrom('categories').select('id').where('slug', '=', slug).execute();
      expect(written).toEqual([]);

      // BEGIN ran; the connection dies before the next statement: the transaction is lost, nothing runs elsewhere.
      const trx = await db.startTransaction().execute();
      proxy.severSilently();
      await expect(trx.selectFrom('categories').select('id').execute()).rejects.toBeInstanceOf(DatabaseUnavailableError);
      await trx.rollback().execute().catch(() => undefined);

      // A read outside a transaction on a dead connection does run again.
      await sql`SELECT 1`.execute(db);
      proxy.severSilently();
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await db.destroy();
    }
  });
});

describe('statements that wait past the statement timeout', () => {
  const STATEMENT_TIMEOUT_MS = 3_000;
  const UPDATE = `mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { title version } userErrors { code } } }`;
  let server: TestServer;
  let seller: Account;
  let holder: pg.Client;

  beforeAll(async () => {
    server = await startTestServer({ env: { DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), ...SLOW_MACHINE } });
    seller = await createAccount(server, { role: 'SELLER' });
    // Another session that takes locks the application's statements must wait for.
    holder = new pg.Client({ connectionString: testDatabaseUrl(server.databaseName) });
    holder.on('error', () => undefined);
    await holder.connect();
  });

  afterAll(async () => {
    await holder?.end();
    await server?.close();
  });

  /** Runs `work` while `holder` holds a lock taken by `lock`, then releases it. */
  async function whileLocked<T>(lock: string, values: unknown[], work: () => Promise<T>): Promise<T> {
    await holder.query('BEGIN');
    try {
      await holder.query(lock, values);
      return await work();
    } finally {
      await holder.query('ROLLBACK');
    }
  }

  function expect503(result: GraphQLResult<unknown>): void {
    expect(outcome(result)).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
    const error = result.body.errors?.[0];
    expect(error?.message).toBe('The service is temporarily unavailable; retry later.');
    expect(error?.extensions?.['requestId']).toBe(result.headers.get('x-request-id'));
  }

  it('answers a mutation that waits on a locked row with 503 and Retry-After, and the same mutation succeeds once the lock is gone', async () => {
    const product = await seeder(server.db).product({ seller: seller.user });
    const input = { productId: gid('Product', product), expectedVersion: 1, title: 'Edited after the lock' };
    const blocked = await whileLocked('SELECT id FROM products WHERE id = $1 FOR UPDATE', [product.id], () =>
      server.graphql(UPDATE, { input }, { headers: seller.headers }),
    );
    expect503(blocked);
    // Nothing was written: the same request, sent again, goes through.
    const again = await server.graphql<{ updateProduct: { product: { title: string; version: number } } }>(UPDATE, { input }, { headers: seller.headers });
    expect(again.status).toBe(200);
    expect(again.body.data?.updateProduct.product).toEqual({ title: 'Edited after the lock', version: 2 });
  });

  it('answers a query that waits on a locked table with 503 and Retry-After', async () => {
    const blocked = await whileLocked('LOCK TABLE products IN ACCESS EXCLUSIVE MODE', [], () => server.graphql(CATALOG));
    expect503(blocked);
    expect((await server.graphql(CATALOG)).status).toBe(200);
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
