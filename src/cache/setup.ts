/** The response cache the configuration asks for: its store (memory or Redis) and its key's schema digest. */
import type { FastifyBaseLogger } from 'fastify';
import { printSchema, type GraphQLSchema } from 'graphql';

import type { ResponseCacheConfig } from '../config/config.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import type { RedisClient } from '../redis/client.js';
import type { ChangeFeed } from '../scope/change-feed.js';
import { sha256 } from './cache-http.js';
import { ResponseCache, type ReadFreshness } from './response-cache.js';
import { MemoryResponseStore, RedisResponseStore, type ResponseStore } from './store.js';
import { tagsOfChanges } from './tags.js';

export interface ResponseCacheSetup {
  config: ResponseCacheConfig;
  /** The application's Redis client (required by the `redis` mode). */
  redis: RedisClient | undefined;
  limiter: CostLimiter;
  /** The executable schema: its SDL digest keys the entries. */
  schema: GraphQLSchema;
  hashOnlyDocuments: boolean;
  log: FastifyBaseLogger;
  /** With read replicas: a response read on one is stored once it had caught up (src/db/replicas.ts). */
  freshness?: ReadFreshness;
}

/** The response cache the configuration asks for, or undefined when it is off. */
export function createResponseCache({ config, redis, limiter, schema, hashOnlyDocuments, log, freshness }: ResponseCacheSetup): ResponseCache | undefined {
  if (config.mode === 'off') return undefined;
  const ttlMs = config.ttlSeconds * 1000;
  let store: ResponseStore;
  if (config.mode === 'redis') {
    if (!redis) throw new Error('RESPONSE_CACHE=redis needs a Redis client');
    store = new RedisResponseStore(redis, { prefix: config.redisPrefix, ttlMs, maxEntryBytes: Math.floor(config.maxBytes / 8) });
  } else {
    store = new MemoryResponseStore({ maxEntries: config.maxEntries, maxBytes: config.maxBytes, ttlMs });
  }
  log.info(
    { store: config.mode, ttlSeconds: config.ttlSeconds, httpMaxAgeSeconds: config.httpMaxAgeSeconds },
    config.mode === 'memory'
      ? 'response cache on, in memory: right for a single instance (several instances need RESPONSE_CACHE=redis)'
      : 'response cache on, in Redis: shared by every instance',
  );
  return new ResponseCache({
    store,
    limiter,
    httpMaxAgeSeconds: config.httpMaxAgeSeconds,
    schemaId: sha256(printSchema(schema), 'base64url').slice(0, 16),
    hashOnlyDocuments,
    log,
    ...(config.mode === 'redis' && redis ? { breaker: redis.breaker } : {}),
    ...(freshness ? { freshness } : {}),
  });
}

/**
 * For a process that writes but serves no responses (the job worker, src/worker.ts):
 * the change feed dropping the shared Redis store's stored responses that its
 * committed writes touched. Undefined unless RESPONSE_CACHE=redis: a memory
 * store lives in each API process, which a separate worker cannot reach (its
 * entries expire after RESPONSE_CACHE_TTL_SECONDS; run the worker in-process
 * with a memory cache).
 */
export function createInvalidationFeed(config: ResponseCacheConfig, redis: RedisClient | undefined, log: { warn(bindings: object, message: string): void }): ChangeFeed | undefined {
  if (config.mode !== 'redis' || !redis) return undefined;
  const store = new RedisResponseStore(redis, { prefix: config.redisPrefix, ttlMs: config.ttlSeconds * 1000, maxEntryBytes: Math.floor(config.maxBytes / 8) });
  return {
    async publish(changes) {
      const tags = tagsOfChanges(changes);
      if (tags.length === 0) return;
      try {
        await store.invalidate(tags);
      } catch (error) {
        log.warn({ err: error, tags: tags.length }, 'response cache invalidation failed; the entries expire after RESPONSE_CACHE_TTL_SECONDS');
      }
    },
  };
}
