/**
 * The shared response cache with the Redis store: with Redis unreachable it
 * answers uncached, and two instances share entries and see each other's
 * writes on the next read (registered only when Redis answers).
 *
 * Whether a response came from the cache is read from the request's log
 * line (`responseCache: hit | miss | bypass`), found by its X-Request-Id.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';

import { createAccount, type Account } from './helpers/auth.js';
import { redisAnswers, testRedisUrl, unreachableRedisUrl } from './helpers/redis.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';
import { type ProductOut, ONE, ENV, get, cacheOutcome, mutate, updateProduct } from './helpers/response-cache.js';

describe('response cache with Redis unreachable', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: await unreachableRedisUrl() }, captureLogs: true });
  });

  afterAll(async () => {
    await server.close();
  });

  it('keeps answering anonymous queries, uncached, with no-store', async () => {
    const product = await seeder(server.db).product({ status: 'ACTIVE', price: 321 });
    const one = { id: gid('Product', product) };
    for (let i = 0; i < 2; i++) {
      const res = await get<{ product: ProductOut }>(server, ONE, one);
      expect(res.status).toBe(200);
      expect(res.body.data?.product.price.amount).toBe(321);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(cacheOutcome(server, res)).toBe('bypass');
    }
  });
});

const redisReachable = await redisAnswers();

if (!redisReachable) {
  process.stderr.write(
    'response-cache.test: Redis did not answer PING within 500 ms; the two-instance tests (RESPONSE_CACHE=redis) are not registered. ' +
      'The memory store is per instance: a deployment of several instances needs the Redis store.\n',
  );
} else {
  describe('response cache shared by two instances (redis store)', () => {
    let a: TestServer;
    let b: TestServer;
    let seller: Account;
    let admin: Account;

    beforeAll(async () => {
      // A prefix of its own: other test files (and runs) sharing this Redis never see these entries.
      const env = { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: testRedisUrl, RESPONSE_CACHE_REDIS_PREFIX: `test-${randomUUID()}` };
      a = await startTestServer({ env, captureLogs: true });
      b = await startTestServer({ env, captureLogs: true, shareDatabaseOf: a });
      [seller, admin] = await Promise.all([createAccount(a, { role: 'SELLER' }), createAccount(a, { role: 'ADMIN' })]);
    });

    afterAll(async () => {
      await b.close();
      await a.close();
    });

    it("serves one instance's stored response from the other, and shows a write made on either on the next read of both", async () => {
      const product = await seeder(a.db).product({ seller: seller.user, status: 'ACTIVE', price: 1000 });
      const one = { id: gid('Product', product) };
      expect(cacheOutcome(a, await get(a, ONE, one))).toBe('miss');
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');

      await updateProduct(a, seller, product, { price: { amount: 1500, currency: 'EUR' } });
      const onB = await get<{ product: ProductOut }>(b, ONE, one);
      expect(onB.body.data?.product.price.amount).toBe(1500);
      expect(cacheOutcome(a, await get(a, ONE, one))).toBe('hit');

      await mutate(b, seller, 'archiveProduct', 'ArchiveProductInput', { productId: one.id });
      expect((await get<{ product: ProductOut | null }>(a, ONE, one)).body.data?.product).toBeNull();
      expect((await get<{ product: ProductOut | null }>(b, ONE, one)).body.data?.product).toBeNull();
    });

    it('applies an invalidation that failed while Redis was away before serving anything stored again', async () => {
      const redis = new URL(testRedisUrl);
      const proxy = await TcpProxy.create({ host: redis.hostname, port: Number(redis.port || 6379) });
      await proxy.forward();
      const env = { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: throughProxy(testRedisUrl, proxy), RESPONSE_CACHE_REDIS_PREFIX: `test-${randomUUID()}` };
      const c = await startTestServer({ env, captureLogs: true, shareDatabaseOf: a });
      try {
        const product = await seeder(a.db).product({ seller: seller.user, status: 'ACTIVE', price: 100 });
        const one = { id: gid('Product', product) };
        await get(c, ONE, one);
        expect(cacheOutcome(c, await get(c, ONE, one))).toBe('hit');

        await proxy.stop();
        await updateProduct(c, seller, product, { price: { amount: 200, currency: 'EUR' } });
        // The outage is reported once, by the Redis client; the deferred invalidation is counted, not logged.
        expect(c.logs.filter((l) => Number(l['level']) >= 40).map((l) => l.msg)).toEqual([expect.stringMatching(/^Redis is unreachable/)]);
        const during = await get<{ product: ProductOut }>(c, ONE, one);
        expect([cacheOutcome(c, during), during.body.data?.product.price.amount]).toEqual(['bypass', 200]);

        await proxy.forward();
        // Until the client has reconnected, reads bypass the store; the first one that reaches it must not be the stale entry.
        let after = await get<{ product: ProductOut }>(c, ONE, one);
        for (let attempt = 0; attempt < 100 && cacheOutcome(c, after) === 'bypass'; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          after = await get<{ product: ProductOut }>(c, ONE, one);
        }
        expect([cacheOutcome(c, after), after.body.data?.product.price.amount]).toEqual(['miss', 200]);
      } finally {
        await c.close();
        await proxy.stop();
      }
    });

    it("shows a seller's new display name, changed on one instance, in the other instance's next read", async () => {
      const shop = await createAccount(a, { role: 'SELLER', displayName: 'Shared Shop Before' });
      const product = await seeder(a.db).product({ seller: shop.user, status: 'ACTIVE' });
      const one = { id: gid('Product', product) };
      await get(a, ONE, one);
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');
      await mutate(a, shop, 'updateProfile', 'UpdateProfileInput', { displayName: 'Shared Shop After' }, 'user { displayName }');
      const onB = await get<{ product: ProductOut }>(b, ONE, one);
      expect([cacheOutcome(b, onB), onB.body.data?.product.seller?.displayName]).toEqual(['miss', 'Shared Shop After']);
      expect((await get<{ product: ProductOut }>(a, ONE, one)).body.data?.product.seller?.displayName).toBe('Shared Shop After');
    });

    it('shows a category rename made on one instance in the other instance\'s next read', async () => {
      const own = await seeder(a.db).category();
      const product = await seeder(a.db).product({ seller: seller.user, category: own, status: 'ACTIVE' });
      const one = { id: gid('Product', product) };
      await get(a, ONE, one);
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');
      await mutate(a, admin, 'updateCategory', 'UpdateCategoryInput', { categoryId: gid('Category', own), name: 'Shared rename' }, 'category { name }');
      expect((await get<{ product: ProductOut }>(b, ONE, one)).body.data?.product.category.name).toBe('Shared rename');
    });
  });
}
