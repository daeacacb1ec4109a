/**
 * The database too slow or too busy to answer in time, and connections that
 * died unseen: reads retried on a new connection, statements past the
 * statement timeout answered 503, pool timeouts, the per-request pool share.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { createDb, withDatabaseName } from '../src/db/connection.js';
import { PoolShare, withPoolShare } from '../src/db/pool-share.js';
import { DatabaseUnavailableError } from '../src/db/faults.js';
import { createAccount, type Account } from './helpers/auth.js';
import { testDatabaseUrl } from './helpers/database.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';
import { CATALOG, VIEWER, outcome, METRICS_TOKEN, SLOW_MACHINE, metric } from './helpers/database-faults.js';

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
        // A request's handle on the pool takes from its share; the application's handle takes from none.
        const handle = share ? withPoolShare(db, share) : db;
        const pids = await Promise.all(
          Array.from({ length: 10 }, () =>
            sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)`.execute(handle).then((r) => r.rows[0]?.pid),
          ),
        );
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
