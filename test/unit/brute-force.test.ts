import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';

import { closeRedisClient, createRedisClient } from '../../src/redis/client.js';
import { redisAnswers, testRedisUrl as redisUrl, unreachableRedisUrl } from '../helpers/redis.js';
import {
  createBruteForceLimiter,
  EMAIL_IP_WINDOW_SECONDS,
  IP_WINDOW_SECONDS,
  type BruteForceLimiter,
  type LimitDecision,
} from '../../src/rate-limit/brute-force.js';

type Budgets = { perEmailIp: number; perIp: number };
type LimiterFactory = (budgets: Budgets) => BruteForceLimiter;

const IP = '203.0.113.7';
const OTHER_IP = '198.51.100.20';

/** One attempt as a resolver makes it: check, then report the outcome when allowed. */
async function attempt(
  limiter: BruteForceLimiter,
  ip: string,
  email: string,
  outcome: 'failure' | 'success',
): Promise<LimitDecision> {
  const decision = await limiter.check({ ip, email });
  if (decision.allowed) {
    if (outcome === 'failure') await limiter.recordFailure({ ip, email });
    else await limiter.recordSuccess({ ip, email });
  }
  return decision;
}

async function failTimes(limiter: BruteForceLimiter, ip: string, email: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    expect(await attempt(limiter, ip, email, 'failure')).toEqual({ allowed: true });
  }
}

function expectBlocked(decision: LimitDecision, limitedBy: 'ip' | 'email-ip', windowSeconds: number): void {
  expect(decision).toMatchObject({ allowed: false, limitedBy });
  if (decision.allowed) return;
  expect(Number.isInteger(decision.retryAfterSeconds)).toBe(true);
  expect(decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  expect(decision.retryAfterSeconds).toBeLessThanOrEqual(windowSeconds);
}

/** The behaviour every store must show; `factory` builds a limiter with a fresh key space. */
function coreBehaviour(factory: () => LimiterFactory): void {
  it('blocks an (email, IP) pair after perEmailIp failures, with a retry time', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 100 });
    await failTimes(limiter, IP, 'ann@example.com', 3);
    expectBlocked(await limiter.check({ ip: IP, email: 'ann@example.com' }), 'email-ip', EMAIL_IP_WINDOW_SECONDS);
    await limiter.close();
  });

  it('still allows another email from that IP, and that email from another IP', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 100 });
    await failTimes(limiter, IP, 'ann@example.com', 3);
    expect(await limiter.check({ ip: IP, email: 'bob@example.com' })).toEqual({ allowed: true });
    expect(await limiter.check({ ip: OTHER_IP, email: 'ann@example.com' })).toEqual({ allowed: true });
    await limiter.close();
  });

  it('resets the (email, IP) counter on success', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 100 });
    await failTimes(limiter, IP, 'ann@example.com', 2);
    expect(await attempt(limiter, IP, 'ann@example.com', 'success')).toEqual({ allowed: true });
    // A full budget again: three more failures before the block.
    await failTimes(limiter, IP, 'ann@example.com', 3);
    expectBlocked(await limiter.check({ ip: IP, email: 'ann@example.com' }), 'email-ip', EMAIL_IP_WINDOW_SECONDS);
    await limiter.close();
  });

  it('never counts successes: a thousand correct logins from one IP are all allowed', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 5 });
    for (let i = 0; i < 1000; i++) {
      expect(await attempt(limiter, IP, `user${i % 200}@example.com`, 'success')).toEqual({ allowed: true });
    }
    await limiter.close();
  }, 120_000); // a thousand Redis round trips on a loaded machine

  it('blocks an IP whose failures across emails reach perIp, correct passwords included (credential stuffing)', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 5 });
    for (let i = 0; i < 5; i++) await failTimes(limiter, IP, `victim${i}@example.com`, 1);
    expectBlocked(await limiter.check({ ip: IP, email: 'office-worker@example.com' }), 'ip', IP_WINDOW_SECONDS);
    expectBlocked(await limiter.check({ ip: IP }), 'ip', IP_WINDOW_SECONDS);
    expect(await limiter.check({ ip: OTHER_IP, email: 'office-worker@example.com' })).toEqual({ allowed: true });
    await limiter.close();
  });

  it('does not block an IP below perIp failures, whatever the successes', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 5 });
    for (let i = 0; i < 4; i++) {
      await failTimes(limiter, IP, `typo${i}@example.com`, 1);
      expect(await attempt(limiter, IP, `typo${i}@example.com`, 'success')).toEqual({ allowed: true });
    }
    expect(await limiter.check({ ip: IP, email: 'colleague@example.com' })).toEqual({ allowed: true });
    await limiter.close();
  });

  it('limits parallel guesses at one account to the pair budget', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 1000 });
    const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.check({ ip: IP, email: 'ann@example.com' })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    await limiter.close();
  });

  it('gives email case and whitespace variants one counter', async () => {
    const limiter = factory()({ perEmailIp: 3, perIp: 100 });
    await failTimes(limiter, IP, 'Ann@Example.com', 1);
    await failTimes(limiter, IP, '  ann@example.COM ', 1);
    await failTimes(limiter, IP, 'ANN@EXAMPLE.COM\t', 1);
    expectBlocked(await limiter.check({ ip: IP, email: 'ann@example.com' }), 'email-ip', EMAIL_IP_WINDOW_SECONDS);
    await limiter.close();
  });
}

describe('brute-force limiter, memory store', () => {
  coreBehaviour(() => (budgets) => createBruteForceLimiter(budgets));

  it('rejects budgets that are not positive integers', () => {
    expect(() => createBruteForceLimiter({ perEmailIp: 0, perIp: 10 })).toThrow(RangeError);
    expect(() => createBruteForceLimiter({ perEmailIp: 3, perIp: 1.5 })).toThrow(RangeError);
  });
});

describe('brute-force limiter, Redis down (insurance limiter)', () => {
  let down: Redis;
  beforeAll(async () => {
    down = createRedisClient(await unreachableRedisUrl());
  });
  afterAll(async () => {
    await closeRedisClient(down);
  });

  // The same behaviour, from the per-instance in-memory insurance limiter; nothing throws.
  coreBehaviour(() => (budgets) => createBruteForceLimiter({ ...budgets, redis: down }));

  it('answers while the client is not connected', () => {
    expect(down.status).not.toBe('ready');
  });
});

const redisReachable = await redisAnswers(redisUrl, 500);

if (!redisReachable) {
  const host = URL.canParse(redisUrl) ? new URL(redisUrl).host : '(REDIS_URL)'; // host only: the URL may hold a password
  process.stderr.write(`brute-force.test: Redis at ${host} did not answer PING within 500 ms; Redis store tests not registered\n`);
} else {
  describe('brute-force limiter, Redis store', () => {
    const runPrefix = `test:brute-force:${randomUUID()}`;
    let redis: Redis;
    let limiterCount = 0;
    /** A key prefix of its own for each test's limiters. */
    const freshPrefix = (): string => `${runPrefix}:${limiterCount++}`;

    async function keysUnder(prefix: string): Promise<string[]> {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      return keys;
    }

    beforeAll(async () => {
      // A loaded machine can delay an answer past the production command timeout (1 s), which opens the
      // breaker and quietly falls back to memory (test/redis-breaker.test.ts); these tests are about a Redis that answers.
      redis = createRedisClient(redisUrl, { commandTimeoutMs: 15_000 });
      if (redis.status !== 'ready') await once(redis, 'ready');
    });

    afterAll(async () => {
      const keys = await keysUnder(runPrefix);
      if (keys.length > 0) await redis.del(...keys);
      await closeRedisClient(redis);
    });

    coreBehaviour(() => {
      const keyPrefix = freshPrefix();
      return (budgets) => createBruteForceLimiter({ ...budgets, redis, keyPrefix });
    });

    it('shares counts between limiter instances on one Redis (server instances)', async () => {
      const keyPrefix = freshPrefix();
      const a = createBruteForceLimiter({ perEmailIp: 3, perIp: 6, redis, keyPrefix });
      const b = createBruteForceLimiter({ perEmailIp: 3, perIp: 6, redis, keyPrefix });

      await failTimes(a, IP, 'ann@example.com', 2);
      await failTimes(b, IP, 'ann@example.com', 1);
      expectBlocked(await a.check({ ip: IP, email: 'ann@example.com' }), 'email-ip', EMAIL_IP_WINDOW_SECONDS);
      expectBlocked(await b.check({ ip: IP, email: 'ann@example.com' }), 'email-ip', EMAIL_IP_WINDOW_SECONDS);

      // A success on one instance resets the pair for the other.
      await b.recordSuccess({ ip: IP, email: 'ann@example.com' });
      expect(await attempt(a, IP, 'ann@example.com', 'success')).toEqual({ allowed: true });
      // Three failures so far; three more, on either instance, block the IP on both.
      await failTimes(a, IP, 'bob@example.com', 2);
      await failTimes(b, IP, 'cy@example.com', 1);
      expectBlocked(await a.check({ ip: IP, email: 'dee@example.com' }), 'ip', IP_WINDOW_SECONDS);
      expectBlocked(await b.check({ ip: IP, email: 'ann@example.com' }), 'ip', IP_WINDOW_SECONDS);

      await a.close();
      await b.close();
    });

    it('stores hashed keys, never the raw email or IP', async () => {
      const keyPrefix = freshPrefix();
      const limiter = createBruteForceLimiter({ perEmailIp: 3, perIp: 10, redis, keyPrefix });
      await failTimes(limiter, IP, 'Ann@Example.com', 1);
      const keys = await keysUnder(keyPrefix);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        expect(key).toMatch(new RegExp(`^${keyPrefix}:(ip:[0-9a-f]{32}|email-ip:[0-9a-f]{32}:[0-9a-f]{32})$`));
      }
      await limiter.close();
    });
  });
}
