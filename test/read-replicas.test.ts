/**
 * Read replicas (READ_DATABASE_URL) against a real streaming replica
 * (test/helpers/replica.ts). Pausing the replica's replay makes it hold
 * older rows than the primary, so each test can tell where a read went by
 * what it returns, and /metrics tells it by `db_reads_total`:
 *
 * - anonymous and signed-in queries read the replica;
 * - a caller's mutation and their reads for READ_REPLICA_MAX_LAG after it
 *   read the primary (read-your-writes); another caller may read the older
 *   rows, as allowed;
 * - everything inside a unit of work reads the primary;
 * - one request's reads, its loaders', all come from one place;
 * - a replica that is down, or further behind than READ_REPLICA_MAX_LAG, is
 *   skipped: reads go to the primary, readiness stays 200 and reports it;
 * - the shared response cache keeps no answer a lagging replica gave;
 * - the replica stopped under load costs no request an error.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { unitOfWork } from '../src/db/unit-of-work.js';
import { ReadRoute, runWithReadRoute } from '../src/db/read-route.js';
import { replicasOf } from '../src/db/replicas.js';
import { createAccount, type Account } from './helpers/auth.js';
import { METRICS_TOKEN, metric, outcome, waitFor, type Outcome } from './helpers/database-faults.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replica.js';
import { jobScope } from './helpers/scope.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { get } from './helpers/response-cache.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';

const ENV = { METRICS_TOKEN, LOGIN_LIMIT_PER_IP: '100000', DATABASE_CONNECT_TIMEOUT_MS: '60000' };
const COUNT = 'query Count { products(first: 1) { totalCount } }';
const PRODUCT = 'query Product($id: ID!) { node(id: $id) { id ... on Product { title } } }';

let pair: ReplicatedPair;
/** Between the servers and the replica: closing it takes the replica away without stopping it. */
let proxy: TcpProxy;
/** Reads a replica up to 10 minutes behind: the paused replica stays in use for the tests that pause it. */
let server: TestServer;
let seller: Account;
/** A signed-in reader who never wrote: a token signed by the server for a seeded user (no logIn, which is a write). */
let reader: Record<string, string>;
let category: CategoryRow;

function replicaUrlThrough(target: TcpProxy): string {
  const url = new URL(pair.replicaUrl);
  url.port = String(target.port);
  return url.toString();
}

interface Ready {
  status: string;
  replicas?: Array<{ name: string; state: string; lagMs: number | null }>;
}

async function readiness(on: TestServer): Promise<{ status: number; body: Ready }> {
  const response = await on.request('/health/ready');
  return { status: response.status, body: (await response.json()) as Ready };
}

async function replicaState(on: TestServer): Promise<string | undefined> {
  return (await readiness(on)).body.replicas?.[0]?.state;
}

async function untilReplica(on: TestServer, state: string): Promise<void> {
  await waitFor(async () => (await replicaState(on)) === state, `replica-1 to be ${state}`, 90_000);
}

async function totalCount(on: TestServer, headers: Record<string, string> = {}): Promise<number> {
  const result = await on.graphql<{ products: { totalCount: number } }>(COUNT, undefined, { headers });
  expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
  return result.body.data?.products.totalCount ?? -1;
}

async function reads(on: TestServer, target: string, reason: string): Promise<number> {
  return metric(on, `db_reads_total{target="${target}",reason="${reason}"}`);
}

/** Writes on the primary behind the API's back (the replica has not replayed it while paused). */
async function productOnPrimary(title: string): Promise<{ id: string }> {
  return seeder(server.db).product({ seller: seller.user, category, title });
}

/** Runs `work` with the replica's replay paused, and lets it catch up again afterwards. */
async function whilePaused<T>(work: () => Promise<T>): Promise<T> {
  await pair.pauseReplay();
  try {
    return await work();
  } finally {
    await pair.resumeReplay();
    await pair.caughtUp();
  }
}

beforeAll(async () => {
  pair = await startReplicatedPair(`mp_replicas_${process.pid}`);
  proxy = await TcpProxy.create({ host: '127.0.0.1', port: Number(new URL(pair.replicaUrl).port) });
  await proxy.forward();
  server = await startTestServer({
    databaseUrl: pair.primaryUrl,
    env: { ...ENV, READ_DATABASE_URL: replicaUrlThrough(proxy), READ_REPLICA_MAX_LAG: '600s' },
    captureLogs: true,
  });
  try { seller = await createAccount(server, { role: 'SELLER' }); } catch (e) { console.log(JSON.stringify(server.logs.filter((l) => (l['level'] as number) >= 50), null, 1)); throw e; }
  const readerUser = await seeder(server.db).user();
  const { token } = await server.app.scopeDeps.auth.tokens.sign({ sub: readerUser.id, ver: readerUser.token_version });
  reader = { authorization: `Bearer ${token}` };
  category = await seeder(server.db).category();
  for (let i = 0; i < 3; i += 1) await seeder(server.db).product({ seller: seller.user, category });
  await pair.caughtUp();
  await untilReplica(server, 'ok');
}, 240_000);

afterAll(async () => {
  await server?.close();
  await proxy?.stop();
  await pair?.stop();
}, 60_000);

describe('where reads go', () => {
  it('anonymous and signed-in queries read the replica: a row it has not replayed is not there yet', async () => {
    const before = await totalCount(server);
    const replicaReads = await reads(server, 'replica-1', 'query');
    await whilePaused(async () => {
      await productOnPrimary('written while the replica is paused');
      expect(await totalCount(server)).toBe(before);
      expect(await totalCount(server, reader)).toBe(before);
    });
    expect(await reads(server, 'replica-1', 'query')).toBeGreaterThan(replicaReads);
    // Replayed: the replica has it now.
    expect(await totalCount(server)).toBe(before + 1);
  });

  it('a caller reads their own mutation at once (the primary); another caller may read the replica\'s older rows', async () => {
    const recentWrites = await reads(server, 'primary', 'recent_write');
    await whilePaused(async () => {
      const created = await server.graphql<{ createProduct: { product: { id: string; title: string } | null; userErrors: unknown[] } }>(
        'mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id title } userErrors { code } } }',
        { input: { categoryId: gid('Category', category), title: 'Mine, at once', price: { amount: 1200, currency: 'EUR' }, stock: 3 } },
        { headers: seller.headers },
      );
      expect(created.body.data?.createProduct.userErrors).toEqual([]);
      const id = created.body.data?.createProduct.product?.id ?? '';
      const own = await server.graphql<{ node: { title: string } | null }>(PRODUCT, { id }, { headers: seller.headers });
      expect(own.body.data?.node).toEqual({ id, title: 'Mine, at once' });
      const others = await server.graphql<{ node: { title: string } | null }>(PRODUCT, { id }, { headers: reader });
      expect(others.body.data?.node).toBeNull();
      const anonymous = await server.graphql<{ node: { title: string } | null }>(PRODUCT, { id });
      expect(anonymous.body.data?.node).toBeNull();
    });
    expect(await reads(server, 'primary', 'recent_write')).toBeGreaterThan(recentWrites);
  });

  it('reads inside a unit of work go to the primary, even in a request whose reads go to the replica', async () => {
    const replicas = replicasOf(server.app.scopeDeps.db);
    if (!replicas) throw new Error('the test server has no read replicas');
    await whilePaused(async () => {
      const product = await productOnPrimary('only on the primary');
      const route = new ReadRoute();
      replicas.route(route);
      expect(route.target).toBe('replica-1');
      const found = await runWithReadRoute(route, async () => {
        const scope = jobScope(server.app.scopeDeps);
        const outside = await scope.db.selectFrom('products').select('id').where('id', '=', product.id).executeTakeFirst();
        const inside = await unitOfWork(scope, (unit) => unit.db.selectFrom('products').select('id').where('id', '=', product.id).executeTakeFirst());
        return { outside: outside !== undefined, inside: inside !== undefined };
      });
      expect(found).toEqual({ outside: false, inside: true });
    });
  });

  it('reads one request\'s rows from one place, its loaders\' included', async () => {
    await whilePaused(async () => {
      const product = await productOnPrimary('not on the replica yet');
      const query = `query One($id: ID!) {
        products(first: 50) { totalCount nodes { id seller { id } category { id } } }
        node(id: $id) { id }
        category: node(id: "${gid('Category', category)}") { ... on Category { products(first: 50) { totalCount } } }
      }`;
      const primaryBefore = await reads(server, 'primary', 'query');
      const replicaBefore = await reads(server, 'replica-1', 'query');
      const result = await server.graphql<{ products: { totalCount: number; nodes: { id: string }[] }; node: unknown; category: { products: { totalCount: number } } }>(query, { id: gid('Product', product) });
      expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
      const data = result.body.data;
      // The same (older) state everywhere: not in the list, not found by id, not counted in its category.
      expect(data?.node).toBeNull();
      expect(data?.products.nodes.map((node) => node.id)).not.toContain(gid('Product', product));
      expect(data?.category.products.totalCount).toBe(data?.products.totalCount);
      expect(await reads(server, 'primary', 'query')).toBe(primaryBefore);
      expect(await reads(server, 'replica-1', 'query')).toBeGreaterThan(replicaBefore);
    });
  });

  it('reports reads by target and the replica\'s lag in /metrics, and its state in readiness', async () => {
    await totalCount(server);
    const response = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const text = await response.text();
    expect(text).toMatch(/^db_reads_total\{target="replica-1",reason="query"\} [1-9]\d*$/m);
    expect(text).toMatch(/^db_reads_total\{target="primary",reason="pending"\} [1-9]\d*$/m);
    expect(text).toMatch(/^db_replica_lag_seconds\{replica="replica-1"\} \d+(\.\d+)?(e-?\d+)?$/m);
    expect(text).toMatch(/^db_replica_up\{replica="replica-1"\} 1$/m);
    const ready = await readiness(server);
    expect(ready).toEqual({ status: 200, body: { status: 'ok', replicas: [{ name: 'replica-1', state: 'ok', lagMs: expect.any(Number) }] } });
  });
});

describe('replicas that cannot serve', () => {
  it('skips a replica that is down: reads go to the primary, readiness stays 200 and says so, then it serves again', async () => {
    const noReplica = await reads(server, 'primary', 'no_replica');
    await proxy.stop();
    try {
      await untilReplica(server, 'down');
      const ready = await readiness(server);
      expect(ready).toEqual({ status: 200, body: { status: 'ok', replicas: [{ name: 'replica-1', state: 'down', lagMs: null }] } });
      const product = await productOnPrimary('while the replica is away');
      const result = await server.graphql<{ node: { id: string } | null }>(PRODUCT, { id: gid('Product', product) });
      expect(result.body.data?.node).toEqual({ id: gid('Product', product), title: 'while the replica is away' });
      expect(await reads(server, 'primary', 'no_replica')).toBeGreaterThan(noReplica);
    } finally {
      await proxy.forward();
    }
    await untilReplica(server, 'ok');
    await totalCount(server);
  });

  it('skips a replica further behind than READ_REPLICA_MAX_LAG until it catches up', async () => {
    const strict = await startTestServer({ databaseUrl: pair.primaryUrl, env: { ...ENV, READ_DATABASE_URL: pair.replicaUrl, READ_REPLICA_MAX_LAG: '500ms' } });
    try {
      await untilReplica(strict, 'ok');
      await pair.pauseReplay();
      try {
        const product = await productOnPrimary('behind a lagging replica');
        await untilReplica(strict, 'lagging');
        const ready = await readiness(strict);
        expect(ready).toEqual({ status: 200, body: { status: 'ok', replicas: [{ name: 'replica-1', state: 'lagging', lagMs: ready.body.replicas?.[0]?.lagMs ?? null }] } });
        // Known to be further behind than the limit, or behind every measurement still kept (null).
        expect(ready.body.replicas?.[0]?.lagMs ?? 501).toBeGreaterThan(500);
        const result = await strict.graphql<{ node: { id: string } | null }>(PRODUCT, { id: gid('Product', product) });
        expect(result.body.data?.node).toEqual({ id: gid('Product', product), title: 'behind a lagging replica' });
        expect(await reads(strict, 'primary', 'no_replica')).toBeGreaterThan(0);
      } finally {
        await pair.resumeReplay();
      }
      await untilReplica(strict, 'ok');
    } finally {
      await strict.close();
    }
  }, 180_000);

  it('keeps no response of a lagging replica in the shared cache: stored once the replica has caught up', async () => {
    const cached = await startTestServer({ databaseUrl: pair.primaryUrl, env: { ...ENV, READ_DATABASE_URL: pair.replicaUrl, READ_REPLICA_MAX_LAG: '600s', RESPONSE_CACHE: 'memory' } });
    try {
      await untilReplica(cached, 'ok');
      const product = await productOnPrimary('first title');
      await pair.caughtUp();
      const title = async () => (await get<{ node: { title: string } | null }>(cached, PRODUCT, { id: gid('Product', product) })).body.data?.node?.title;
      const stores = () => metric(cached, 'graphql_response_cache_events_total{event="store"}');
      await whilePaused(async () => {
        // A write the replica has not replayed, made through the API: it drops the cached answers it touched.
        const { version } = await cached.db.selectFrom('products').select('version').where('id', '=', product.id).executeTakeFirstOrThrow();
        const updated = await cached.graphql<{ updateProduct: { userErrors: unknown[] } }>(
          'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }',
          { input: { productId: gid('Product', product), expectedVersion: version, title: 'second title' } },
          { headers: seller.headers },
        );
        expect(updated.body.data?.updateProduct.userErrors).toEqual([]);
        const storesBefore = await stores();
        // Anonymous: from the replica, the older title (allowed), but never kept for others to get later.
        expect(await title()).toBe('first title');
        expect(await title()).toBe('first title');
        expect(await stores()).toBe(storesBefore);
      });
      // Replayed: the new title; stored once the monitor has seen the replica catch up with the invalidation.
      const storesBefore = await stores();
      await waitFor(
        async () => {
          expect(await title()).toBe('second title');
          return (await stores()) > storesBefore;
        },
        'the answer to be stored',
        60_000,
      );
      expect(await title()).toBe('second title');
    } finally {
      await cached.close();
    }
  }, 180_000);

  it('costs no request an error when the replica is stopped under load; the primary serves on', async () => {
    let running = true;
    const outcomes: Outcome[] = [];
    const clients = Array.from({ length: 8 }, async (_, i) => {
      while (running) outcomes.push(outcome(await server.graphql(i % 2 === 0 ? COUNT : `query Viewer { viewer { id } products(first: 5) { nodes { id title seller { id } } } }`, undefined, { headers: i % 2 === 0 ? {} : reader })));
    });
    // Under load first, then the replica's server stops (a fast shutdown ends its sessions).
    await waitFor(async () => outcomes.length >= 16, 'the load to run', 60_000);
    await pair.stopReplica();
    const atStop = outcomes.length;
    await waitFor(async () => outcomes.length >= atStop + 32, 'requests after the stop', 60_000);
    running = false;
    await Promise.all(clients);
    for (const result of outcomes) expect(result).toEqual({ status: 200, code: undefined, retryAfter: null });
    await untilReplica(server, 'down');
    expect((await readiness(server)).status).toBe(200);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM products`.execute(server.db);
    expect(rows[0]?.n).toBeGreaterThan(0);
  }, 180_000);
});
