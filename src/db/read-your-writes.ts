/**
 * Read-your-writes with read replicas: who wrote recently, so that their
 * reads go to the primary for READ_REPLICA_MAX_LAG after their mutation
 * (src/db/replicas.ts says why that window is enough). Marks are kept in
 * this process, and with Redis also there, with the window as their expiry,
 * so that the caller's next request finds its mark on any instance (no clock
 * is compared: Redis expires the key). A Redis that does not answer counts
 * as "wrote recently": the read goes to the primary, which is always right.
 */
import { performance } from 'node:perf_hooks';

import type { RedisClient } from '../redis/client.js';

/** Marks kept in memory at most; past it, the oldest go first (they expire within the window anyway). */
const MAX_LOCAL_MARKS = 50_000;
const REDIS_PREFIX = 'marketplace:ryw:';

export interface WriterMarks {
  /** These users' mutation has just answered: their reads go to the primary for the window. */
  wrote(userIds: readonly string[]): Promise<void>;
  /** Whether `userId` wrote within the window (here or, with Redis, on any instance). */
  recentlyWrote(userId: string): Promise<boolean>;
}

export interface WriterMarksOptions {
  windowMs: number;
  /** Shares the marks between instances. */
  redis?: RedisClient;
  /** Told once per failed Redis command (the Redis client's breaker tells the outage itself). */
  onRedisError?: (error: unknown) => void;
  now?: () => number;
}

class LocalMarks {
  /** User id -> when the mark expires; insertion order is expiry order (a new mark moves to the end). */
  private readonly marks = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  mark(userId: string): void {
    const now = this.now();
    this.marks.delete(userId);
    this.marks.set(userId, now + this.windowMs);
    for (const [id, expires] of this.marks) {
      if (expires > now && this.marks.size <= MAX_LOCAL_MARKS) break;
      this.marks.delete(id);
    }
  }

  has(userId: string): boolean {
    const expires = this.marks.get(userId);
    return expires !== undefined && expires > this.now();
  }
}

/** Marks for a window of `windowMs`: in this process, and in Redis when given. */
export function createWriterMarks(options: WriterMarksOptions): WriterMarks {
  const local = new LocalMarks(options.windowMs, options.now ?? (() => performance.now()));
  const { redis } = options;
  return {
    async wrote(userIds) {
      const unique = [...new Set(userIds)];
      for (const id of unique) local.mark(id);
      if (!redis || unique.length === 0) return;
      try {
        await Promise.all(unique.map((id) => redis.set(`${REDIS_PREFIX}${id}`, '1', 'PX', options.windowMs)));
      } catch (error) {
        // This instance still knows; another one may read a replica that lacks the write.
        options.onRedisError?.(error);
      }
    },
    async recentlyWrote(userId) {
      if (local.has(userId)) return true;
      if (!redis) return false;
      try {
        return (await redis.exists(`${REDIS_PREFIX}${userId}`)) === 1;
      } catch (error) {
        options.onRedisError?.(error);
        return true;
      }
    },
  };
}
