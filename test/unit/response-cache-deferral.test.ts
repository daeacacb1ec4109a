/**
 * Invalidations the response store did not take while its Redis was away
 * (breaker open, or a failed command): kept, replayed as soon as the breaker
 * closes, and past MAX_DEFERRED_TAGS replaced by one clear of the store.
 */
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { MAX_DEFERRED_TAGS, ResponseCache } from '../../src/cache/response-cache.js';
import type { CachedResponse, Lookup, ResponseStore } from '../../src/cache/store.js';
import type { CostLimiter } from '../../src/limits/cost-limiter.js';
import { CircuitBreaker } from '../../src/redis/breaker.js';

/** A store that records what it was asked, and fails while `down`. */
class RecordingStore implements ResponseStore {
  down = false;
  readonly invalidated: string[][] = [];
  clears = 0;

  private check(): void {
    if (this.down) throw new Error('store down');
  }
  async get(): Promise<Lookup> {
    this.check();
    return { entry: undefined, token: 0 };
  }
  async sequence(): Promise<number> {
    this.check();
    return 0;
  }
  async set(_key: string, _entry: CachedResponse): Promise<boolean> {
    this.check();
    return true;
  }
  async invalidate(tags: readonly string[]): Promise<void> {
    this.check();
    this.invalidated.push([...tags]);
  }
  async clear(): Promise<void> {
    this.check();
    this.clears += 1;
  }
  async close(): Promise<void> {}
}

const limiter: CostLimiter = {
  budget: 100,
  windowSeconds: 60,
  charge: async () => ({ allowed: true, remaining: 100, resetSeconds: 60, windowEndsAt: Date.now() + 60_000 }),
  refund: async () => null,
};

/** A breaker whose probe answers when `answers` is true. */
function breakerWith(state: { answers: boolean }): CircuitBreaker {
  return new CircuitBreaker(
    { probeIntervalMs: 60_000, probeTimeoutMs: 100 },
    { canProbe: () => true, ping: async () => (state.answers ? undefined : Promise.reject(new Error('no answer'))) },
  );
}

function cacheWith(store: ResponseStore, breaker: CircuitBreaker): ResponseCache {
  return new ResponseCache({ store, limiter, httpMaxAgeSeconds: 0, schemaId: 'test', hashOnlyDocuments: false, log: pino({ level: 'silent' }), breaker });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('response cache invalidations deferred while the store is away', () => {
  it('does not ask the store while the breaker is open, and replays the tags when it closes', async () => {
    const store = new RecordingStore();
    const redis = { answers: false };
    const breaker = breakerWith(redis);
    const cache = cacheWith(store, breaker);
    breaker.trip('timeout');
    await cache.publish([{ entity: 'product', id: 'p1' }]);
    await cache.publish([{ entity: 'category', id: 'c1' }]);
    expect(store.invalidated).toEqual([]);

    redis.answers = true;
    breaker.probeNow();
    await settle();
    expect(breaker.state).toBe('closed');
    expect(store.invalidated.map((tags) => [...tags].sort())).toEqual([['Category:*', 'Category:c1', 'Product:*', 'Product:p1']]);
    // Nothing owed any more: a further close replays nothing.
    breaker.trip('connection');
    breaker.probeNow();
    await settle();
    expect(store.invalidated).toHaveLength(1);
  });

  it('keeps a failed invalidation until a replay succeeds', async () => {
    const store = new RecordingStore();
    const redis = { answers: true };
    const breaker = breakerWith(redis);
    const cache = cacheWith(store, breaker);
    store.down = true;
    await cache.publish([{ entity: 'user', id: 'u1' }]);
    // The breaker opened and closed again, but the store still fails: still owed.
    breaker.trip('timeout');
    breaker.probeNow();
    await settle();
    expect(store.invalidated).toEqual([]);
    store.down = false;
    breaker.trip('timeout');
    breaker.probeNow();
    await settle();
    expect(store.invalidated.map((tags) => [...tags].sort())).toEqual([['User:*', 'User:u1']]);
  });

  it(`clears the whole store instead once more than ${MAX_DEFERRED_TAGS} tags are owed`, async () => {
    const store = new RecordingStore();
    const redis = { answers: false };
    const breaker = breakerWith(redis);
    const cache = cacheWith(store, breaker);
    breaker.trip('timeout');
    for (let i = 0; i < MAX_DEFERRED_TAGS; i++) await cache.publish([{ entity: 'product', id: `p${i}` }]);
    redis.answers = true;
    breaker.probeNow();
    await settle();
    expect([store.clears, store.invalidated]).toEqual([1, []]);
  });
});
