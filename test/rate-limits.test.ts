import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount } from './helpers/auth.js';
import { redisAnswers, testRedisUrl, unreachableRedisUrl } from './helpers/redis.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';
import { seeder } from './helpers/seed.js';

const BUDGET = 300;
/** Budgets per IP: requests claim an address of their own through X-Forwarded-For (TRUST_PROXY on). */
const ENV = { RATE_LIMIT_BUDGET: String(BUDGET), QUERY_MAX_COST: String(BUDGET), TRUST_PROXY: 'true' };
const PRODUCTS = 5;
/** Requested 1 + 5 x 2 = 11; with five products visible the actual cost is the same. */
const FIVE_WITH_SELLERS = '{ products(first: 5) { nodes { id seller { id } } } }';

/** A fresh client address (TEST-NET-2 and the benchmarking range), so each test has a budget of its own. */
function freshIp(): string {
  return `198.${randomInt(18, 20)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

function rateLimit(res: GraphQLResult<unknown>): { remaining: number; reset: number } {
  const match = /^"default";r=(\d+);t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '');
  if (!match) throw new Error(`no RateLimit header: ${res.headers.get('ratelimit')}`);
  return { remaining: Number(match[1]), reset: Number(match[2]) };
}

async function seedProducts(server: TestServer): Promise<void> {
  const seed = seeder(server.db);
  const category = await seed.category();
  const seller = await seed.user({ role: 'SELLER' });
  for (let i = 0; i < PRODUCTS; i++) await seed.product({ category, seller });
}

describe('query-cost budgets (memory store)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: ENV });
    await seedProducts(server);
  });

  afterAll(async () => {
    await server.close();
  });

  it('sends the IETF RateLimit fields and extensions.cost, the remaining budget decreasing', async () => {
    const headers = { 'x-forwarded-for': freshIp() };
    const first = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
    const second = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
    for (const res of [first, second]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe(`"default";q=${BUDGET};w=3600`);
    }
    expect(first.body.extensions?.['cost']).toEqual({ requested: 11, actual: 11, remaining: BUDGET - 11 });
    expect(second.body.extensions?.['cost']).toEqual({ requested: 11, actual: 11, remaining: BUDGET - 22 });
    expect(rateLimit(first).remaining).toBe(BUDGET - 11);
    expect(rateLimit(second).remaining).toBe(BUDGET - 22);
    expect(rateLimit(second).reset).toBeGreaterThan(0);
    expect(rateLimit(second).reset).toBeLessThanOrEqual(3600);
  });

  it('charges the requested cost and refunds what the response did not use', async () => {
    const res = await server.graphql('{ products(first: 100) { nodes { id } } }', undefined, { headers: { 'x-forwarded-for': freshIp() } });
    // Requested: the connection plus 100 products; returned: the connection plus five.
    expect(res.body.extensions?.['cost']).toEqual({ requested: 101, actual: 1 + PRODUCTS, remaining: BUDGET - (1 + PRODUCTS) });
    expect(rateLimit(res).remaining).toBe(BUDGET - (1 + PRODUCTS));
  });

  it('answers 429 RATE_LIMITED with Retry-After once the budget is spent, and charges nothing for the refusal', async () => {
    const headers = { 'x-forwarded-for': freshIp() };
    const allowed = Math.floor(BUDGET / 11);
    for (let i = 0; i < allowed; i++) {
      const res = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
      expect(res.status).toBe(200);
    }
    const refused = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      requestId: refused.headers.get('x-request-id'),
      retryAfterSeconds: retryAfter,
    });
    const left = BUDGET - allowed * 11;
    expect(rateLimit(refused).remaining).toBe(left);
    expect(refused.body.extensions?.['cost']).toEqual({ requested: 11, actual: 0, remaining: left });
    // What is left still buys a cheaper operation.
    const cheap = await server.graphql('{ products(first: 1) { nodes { id } } }', undefined, { headers });
    expect(cheap.status).toBe(200);
    expect(cheap.body.extensions?.['cost']).toEqual({ requested: 2, actual: 2, remaining: left - 2 });
  });

  it('gives a signed-in user a budget of their own, apart from their IP address', async () => {
    const ip = freshIp();
    const account = await createAccount(server);
    const anonymous = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers: { 'x-forwarded-for': ip } });
    const signedIn = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers: { 'x-forwarded-for': ip, ...account.headers } });
    expect(rateLimit(anonymous).remaining).toBe(BUDGET - 11);
    expect(rateLimit(signedIn).remaining).toBe(BUDGET - 11);
  });
});

describe('query-cost budgets when Redis is unreachable', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { ...ENV, REDIS_URL: await unreachableRedisUrl() }, captureLogs: true });
    await seedProducts(server);
  });

  afterAll(async () => {
    await server.close();
  });

  it('keeps serving with a per-instance budget and logs the fallback', async () => {
    const headers = { 'x-forwarded-for': freshIp() };
    const first = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
    const second = await server.graphql(FIVE_WITH_SELLERS, undefined, { headers });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body.errors).toBeUndefined();
    expect([rateLimit(first).remaining, rateLimit(second).remaining]).toEqual([BUDGET - 11, BUDGET - 22]);
    const warning = server.logs.find((l) => l.msg?.startsWith('Redis is unreachable'));
    expect(warning?.['level']).toBe(40);
  });
});

const redisReachable = await redisAnswers();

if (!redisReachable) {
  process.stderr.write('rate-limits.test: Redis did not answer PING within 500 ms; shared-budget tests not registered\n');
} else {
  describe('query-cost budgets shared through Redis', () => {
    let a: TestServer;
    let b: TestServer;

    beforeAll(async () => {
      const env = { ...ENV, REDIS_URL: testRedisUrl };
      [a, b] = await Promise.all([startTestServer({ env }), startTestServer({ env })]);
      await Promise.all([seedProducts(a), seedProducts(b)]);
    });

    afterAll(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    it('charges one budget across two server instances', async () => {
      const headers = { 'x-forwarded-for': freshIp() };
      const onA = await a.graphql(FIVE_WITH_SELLERS, undefined, { headers });
      const onB = await b.graphql(FIVE_WITH_SELLERS, undefined, { headers });
      const againOnA = await a.graphql(FIVE_WITH_SELLERS, undefined, { headers });
      expect([rateLimit(onA).remaining, rateLimit(onB).remaining, rateLimit(againOnA).remaining]).toEqual([
        BUDGET - 11,
        BUDGET - 22,
        BUDGET - 33,
      ]);
    });
  });
}
