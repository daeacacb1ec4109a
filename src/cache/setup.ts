/** The response cache the configuration asks for: its store (memory or Redis) and its key's schema digest. */
import type { FastifyBaseLogger } from 'fastify';
import { printSchema, type GraphQLSchema } from 'graphql';

import type { ResponseCacheConfig } from '../config/config.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import type { RedisClient } from '../redis/client.js';
import { sha256 } from './cache-http.js';
import { ResponseCache } from './response-cache.js';
import { MemoryResponseStore, RedisResponseStore, type ResponseStore } from './store.js';

export interface ResponseCacheSetup {
  config: ResponseCacheConfig;
  /** The application's Redis client (required by the `redis` mode). */
  redis: RedisClient | undefined;
  limiter: CostLimiter;
  /** The executable schema: its SDL digest keys the entries. */
  schema: GraphQLSchema;
  hashOnlyDocuments: boolean;
  log: FastifyBaseLogger;
}

/** The response cache the configuration asks for, or undefined when it is off. */
export function createResponseCache({ config, redis, limiter, schema, hashOnlyDocuments, log }: ResponseCacheSetup): ResponseCache | undefined {
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
  });
}
