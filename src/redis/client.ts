/**
 * The one place that makes Redis clients. Every user of Redis (the
 * brute-force limiter, the query-cost limiter) takes the client that
 * `buildApp` creates from REDIS_URL, so one connection serves them all.
 *
 * Clients fail fast: no offline queue, one retry per command, 1 s command
 * timeout. A caller that cannot reach Redis gets an error at once and falls
 * back to its in-memory insurance limiter; the client keeps reconnecting in
 * the background until it is closed.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

export type { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Connection errors (ioredis emits one per failed reconnect). Default: ignored, the limiters fall back to memory. */
  onError?: (error: Error) => void;
}

/** An ioredis client tuned to fail fast (see the module comment). */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    connectTimeout: 5_000,
  });
  // Without a listener ioredis prints every connection error to the console.
  client.on('error', options.onError ?? (() => undefined));
  return client;
}

/**
 * Logs when Redis becomes unreachable (once per outage, not once per
 * reconnect attempt) and when it answers again, so operators see when limits
 * are per instance only.
 */
export function logRedisAvailability(client: Redis, log: FastifyBaseLogger): void {
  let reachable: boolean | undefined;
  client.on('error', (error: Error) => {
    if (reachable === false) return;
    reachable = false;
    log.warn(
      { err: error },
      'Redis is unreachable: rate limits fall back to per-instance memory budgets (and a Redis response cache is bypassed) until it answers again',
    );
  });
  client.on('ready', () => {
    if (reachable === false) log.info('Redis answers again: rate limits are shared between instances');
    reachable = true;
  });
}

/** Quits gracefully when connected; otherwise drops the connection and stops reconnecting. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: force it.
    }
  }
  client.disconnect();
}
