/**
 * A Redis that stops answering (a paused container, a network partition:
 * the connection stays open, nothing comes back), under a running
 * application, through a TCP proxy that holds every byte (`freeze`) and then
 * delivers them (`thaw`). What a client sees: one request pays one Redis
 * command timeout, once, and the rest run at normal speed on per-instance
 * budgets and without the response cache; what an operator sees: one
 * warning, one info line, and counters in /metrics. When Redis answers
 * again, budgets are shared between instances again and no stale cached
 * response is served for a write made during the outage.
 *
 * Registered only when Redis answers (REDIS_URL, else 127.0.0.1:6379).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, logIn, type Account } from './helpers/auth.js';
import { redisAnswers, testRedisUrl } from './helpers/redis.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResponse, type LogLine, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';

/** Generous, so that a request that waited it out cannot pass for a normal one on a loaded machine. */
const COMMAND_TIMEOUT_MS = 2_000;
/** The outage the drill describes; the warning count must not grow with it. */
const OUTAGE_MS = 20_000;
const BUDGET = 100_000;
const METRICS_TOKEN = 'redis-breaker-metrics-token';
const PREFLIGHT = { 'apollo-require-preflight': 'true' };
const ONE = 'query One($id: ID!) { product(id: $id) { id price { amount } } }';
const WARN = 40;

interface ProductOut {
  id: string;
  price: { amount: number };
}

/** A fresh client address, so that each budget check starts from a full budget. */
function freshIp(): string {
  return `198.${randomInt(18, 20)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const redisReachable = await redisAnswers();

if (!redisReachable) {
  process.stderr.write('redis-breaker.test: Redis did not answer PING within 500 ms; the Redis outage tests are not registered\n');
} else {
  describe('a Redis that stops answering (circuit breaker)', () => {
    let proxy: TcpProxy;
    /** Reaches Redis through the proxy. */
    let a: TestServer;
    /** Reaches Redis directly: the other instance. */
    let b: TestServer;
    let seller: Account;

    beforeAll(async () => {
      const redis = new URL(testRedisUrl);
      proxy = await TcpProxy.create({ host: redis.hostname, port: Number(redis.port || 6379) });
      await proxy.forward();
      const env = {
        RESPONSE_CACHE: 'redis',
        // A prefix of its own: other test files sharing this Redis never see these entries.
        RESPONSE_CACHE_REDIS_PREFIX: `test-${randomUUID()}`,
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        RATE_LIMIT_BUDGET: String(BUDGET),
        TRUST_PROXY: 'true',
        LOGIN_LIMIT_PER_IP: '100000',
        METRICS_TOKEN,
      };
      a = await startTestServer({ env: { ...env, REDIS_URL: throughProxy(testRedisUrl, proxy) }, captureLogs: true });
      b = await startTestServer({ env: { ...env, REDIS_URL: testRedisUrl }, captureLogs: true, shareDatabaseOf: a });
      seller = await createAccount(a, { role: 'SELLER' });
    });

    afterAll(async () => {
      await b.close();
      await a.close();
      await proxy.stop();
    });

    /** Anonymous GET of one product, with its duration and how the cache answered (from the request's log line). */
    async function read(server: TestServer, id: string, ip = freshIp()) {
      const started = performance.now();
      const params = new URLSearchParams({ query: ONE, variables: JSON.stringify({ id }) });
      const res = await server.request(`/graphql?${params.toString()}`, { headers: { ...PREFLIGHT, 'x-forwarded-for': ip } });
      const body = (await res.json()) as GraphQLResponse<{ product: ProductOut }>;
      const ms = performance.now() - started;
      const requestId = res.headers.get('x-request-id');
      const line = server.logs.find((l) => l.msg === 'request completed' && l['requestId'] === requestId);
      const remaining = /;r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')?.[1];
      return { status: res.status, ms, body, cache: line?.['responseCache'], remaining: remaining === undefined ? undefined : Number(remaining) };
    }

    async function setPrice(productId: string, amount: number): Promise<number> {
      const started = performance.now();
      const version = await a.db.selectFrom('products').select('version').where('id', '=', productId).executeTakeFirstOrThrow();
      const res = await a.graphql<{ updateProduct: { userErrors: unknown[] } }>(
        'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { id } userErrors { code } } }',
        { input: { productId: gid('Product', { id: productId }), expectedVersion: version.version, price: { amount, currency: 'EUR' } } },
        { headers: seller.headers },
      );
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.updateProduct.userErrors).toEqual([]);
      return performance.now() - started;
    }

    async function metric(name: string): Promise<number> {
      const text = await (await a.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? 0 : Number(line.split(' ')[1]);
    }

    it('costs one command timeout once, logs one warning and one info line over a 20 s outage, then shares budgets and serves no stale entry', async () => {
      const product = await seeder(a.db).product({ seller: seller.user, status: 'ACTIVE', price: 100 });
      const id = gid('Product', product);
      await read(a, id);
      expect((await read(a, id)).cache).toBe('hit');
      // The comparison below means something only if a normal request is well under the timeout.
      const normalMs = Math.max(...(await Promise.all([read(a, id), read(a, id), read(a, id)])).map((r) => r.ms));
      expect(normalMs).toBeLessThan(COMMAND_TIMEOUT_MS);

      const logsBefore = a.logs.length;
      const skippedBefore = await metric('redis_commands_skipped_total');
      proxy.freeze();
      const frozenAt = Date.now();

      // In flight when Redis went silent: they wait for the first timeout, once.
      const first = await Promise.all([read(a, id), read(a, id), read(a, id)]);
      for (const r of first) {
        expect(r.status).toBe(200);
        expect(r.body.data?.product.price.amount).toBe(100);
        expect(r.ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
      }
      expect(await metric('redis_breaker_state')).toBe(1);

      // A write during the outage: its invalidation cannot reach Redis and is deferred, not logged.
      const writeMs = await setPrice(product.id, 250);
      expect(writeMs).toBeLessThan(COMMAND_TIMEOUT_MS);
      // A failed login: the login limits answer from memory.
      const login = await logIn(a, seller.email, 'not the password', { 'x-forwarded-for': freshIp() });
      expect(login.body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');

      // Everything after the first requests runs at normal speed, uncached, with per-instance budgets, for the whole outage.
      const later: number[] = [];
      while (later.length < 20 || Date.now() - frozenAt < OUTAGE_MS) {
        const ip = freshIp();
        const r = await read(a, id, ip);
        const again = await read(a, id, ip);
        expect([r.status, r.cache, r.body.data?.product.price.amount]).toEqual([200, 'bypass', 250]);
        // Charged to a budget (this instance's memory): a fresh address pays the same cost twice.
        expect(again.remaining).toBe(2 * (r.remaining ?? 0) - BUDGET);
        later.push(r.ms, again.ms);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(Math.max(...later)).toBeLessThan(COMMAND_TIMEOUT_MS);
      expect(await metric('redis_commands_skipped_total')).toBeGreaterThan(skippedBefore);

      proxy.thaw();
      await until(async () => (await metric('redis_breaker_state')) === 0, 15_000, 'the breaker to close');
      const outageLines = a.logs.slice(logsBefore).filter((l: LogLine) => l.msg !== 'request completed');
      const loud = outageLines.filter((l) => Number(l['level']) >= WARN);
      expect(loud.map((l) => l.msg)).toEqual([expect.stringMatching(/^Redis is unreachable/)]);
      expect(outageLines.filter((l) => String(l.msg).startsWith('Redis answers again'))).toHaveLength(1);
      // Every request of the outage still got its one info line; none logged more than that.
      expect(a.logs.slice(logsBefore).filter((l) => l.msg === 'request completed').length).toBeGreaterThanOrEqual(later.length);

      // The entry stored before the write is never served: the deferred invalidation is replayed first.
      let after = await read(a, id);
      for (const deadline = Date.now() + 15_000; after.cache === 'bypass' && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await read(a, id);
      }
      expect([after.cache, after.body.data?.product.price.amount]).toEqual(['miss', 250]);
      expect((await read(b, id)).body.data?.product.price.amount).toBe(250);

      // Budgets are shared again: what one instance charges, the other sees.
      const ip = freshIp();
      const onA = await read(a, id, ip);
      const onB = await read(b, id, ip);
      expect(onA.remaining).toBeLessThan(BUDGET);
      expect(onB.remaining).toBe(2 * (onA.remaining ?? 0) - BUDGET);
    }, 90_000);
  });
}
