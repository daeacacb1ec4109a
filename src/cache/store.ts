/**
 * Where stored responses live: in this process (`MemoryResponseStore`, an
 * LRU bounded by entries and bytes) or in Redis (`RedisResponseStore`,
 * shared by every instance, so an invalidation made by the instance that
 * wrote reaches every other one at once: they all read the same keys).
 *
 * Both keep, besides the entries, an index from tag to entry keys and an
 * invalidation sequence. A reader notes the sequence when it misses
 * (`token`) and may store its response only if none of the response's tags
 * was invalidated since: a write that commits while the response is being
 * computed from the old rows can then not be overwritten by that response.
 */
import { LRUCache } from 'lru-cache';

import type { Redis } from '../redis/client.js';

/** A stored response: the `data` member's JSON text and what the response needs around it. */
export interface CachedResponse {
  /** JSON text of the response's `data`. */
  data: string;
  /** Weak entity tag of `data` (`W/"..."`). */
  etag: string;
  operationName: string | null;
  /** The operation's requested and actual cost, charged again on each hit. */
  cost: { requested: number; actual: number } | null;
}

export interface Lookup {
  entry: CachedResponse | undefined;
  /** The invalidation sequence at lookup time: pass it to `set`. */
  token: number;
}

export interface ResponseStore {
  get(key: string): Promise<Lookup>;
  /** The invalidation sequence now (what `get` returns as `token`). */
  sequence(): Promise<number>;
  /** Stores unless one of `tags` was invalidated after `token`; true when stored. */
  set(key: string, entry: CachedResponse, tags: readonly string[], token: number): Promise<boolean>;
  /** Drops every entry carrying one of `tags`; entries being computed with them will not be stored. */
  invalidate(tags: readonly string[]): Promise<void>;
  /** Drops every entry; entries being computed while it runs will not be stored. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long an invalidation is remembered for readers still computing a
 * response. A response whose computation took longer is not stored at all
 * (the statement timeout ends SQL long before this).
 */
export const INVALIDATION_HORIZON_MS = 600_000;

function entrySize(entry: CachedResponse, tags: readonly string[]): number {
  let size = entry.data.length + entry.etag.length + (entry.operationName?.length ?? 0) + 64;
  for (const tag of tags) size += tag.length + 16;
  return size;
}

export interface MemoryStoreOptions {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
}

/** Per process: correct for one instance only (another instance never hears this one's invalidations). */
export class MemoryResponseStore implements ResponseStore {
  private current = 0;
  /** The sequence of the last `clear`: a reader whose token is older may not store. */
  private clearedAt = 0;
  private readonly entries: LRUCache<string, { entry: CachedResponse; tags: readonly string[] }>;
  private readonly index = new Map<string, Set<string>>();
  /** Tag -> sequence and time of its last invalidation, kept for INVALIDATION_HORIZON_MS. */
  private readonly invalidated = new Map<string, { sequence: number; at: number }>();

  constructor(private readonly options: MemoryStoreOptions) {
    this.entries = new LRUCache({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      // A single response over an eighth of the budget would flush the rest: it is not stored.
      maxEntrySize: Math.floor(options.maxBytes / 8),
      sizeCalculation: ({ entry, tags }) => entrySize(entry, tags),
      ttl: options.ttlMs,
      dispose: ({ tags }, key) => this.unindex(key, tags),
    });
  }

  private unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.index.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.index.delete(tag);
    }
  }

  async get(key: string): Promise<Lookup> {
    return { entry: this.entries.get(key)?.entry, token: this.current };
  }

  async sequence(): Promise<number> {
    return this.current;
  }

  async set(key: string, entry: CachedResponse, tags: readonly string[], token: number): Promise<boolean> {
    if (this.clearedAt > token) return false;
    for (const tag of tags) {
      const last = this.invalidated.get(tag);
      if (last && last.sequence > token) return false;
    }
    this.entries.set(key, { entry, tags });
    if (!this.entries.has(key)) return false; // over maxEntrySize
    for (const tag of tags) {
      let keys = this.index.get(tag);
      if (!keys) this.index.set(tag, (keys = new Set()));
      keys.add(key);
    }
    return true;
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    const now = Date.now();
    this.current += 1;
    for (const tag of tags) {
      // Re-inserted so that the map stays in time order for pruning.
      this.invalidated.delete(tag);
      this.invalidated.set(tag, { sequence: this.current, at: now });
      const keys = this.index.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) this.entries.delete(key);
    }
    for (const [tag, last] of this.invalidated) {
      if (now - last.at < INVALIDATION_HORIZON_MS) break;
      this.invalidated.delete(tag);
    }
  }

  async clear(): Promise<void> {
    this.current += 1;
    this.clearedAt = this.current;
    this.entries.clear();
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/** Stores unless the store was cleared or a tag invalidated after the reader's token. KEYS[1]: entry. ARGV: token, payload, ttl ms, prefix, tags... */
const STORE_SCRIPT = `
local token = tonumber(ARGV[1])
local prefix = ARGV[4]
local cleared = redis.call('GET', prefix .. 'cleared')
if cleared and tonumber(cleared) > token then return 0 end
for i = 5, #ARGV do
  local last = redis.call('GET', prefix .. 'i:' .. ARGV[i])
  if last and tonumber(last) > token then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
for i = 5, #ARGV do
  local set = prefix .. 't:' .. ARGV[i]
  redis.call('SADD', set, KEYS[1])
  redis.call('PEXPIRE', set, ARGV[3])
end
return 1
`;

/** Bumps the sequence, marks each tag invalidated at it, drops the tag's entries. KEYS[1]: sequence. ARGV: horizon s, prefix, tags... */
const INVALIDATE_SCRIPT = `
local sequence = redis.call('INCR', KEYS[1])
local prefix = ARGV[2]
for i = 3, #ARGV do
  redis.call('SET', prefix .. 'i:' .. ARGV[i], sequence, 'EX', ARGV[1])
  local set = prefix .. 't:' .. ARGV[i]
  local keys = redis.call('SMEMBERS', set)
  for j = 1, #keys, 500 do
    redis.call('DEL', unpack(keys, j, math.min(j + 499, #keys)))
  end
  redis.call('DEL', set)
end
return sequence
`;

/** Bumps the sequence and marks the store cleared at it. KEYS[1]: sequence, KEYS[2]: cleared mark. ARGV: horizon s. */
const CLEAR_MARK_SCRIPT = `
local sequence = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], sequence, 'EX', ARGV[1])
return sequence
`;

/** Keys deleted per SCAN step of `clear`. */
const CLEAR_BATCH = 1000;

interface ScriptedRedis extends Redis {
  responseCacheStore(entryKey: string, ...args: Array<string | number>): Promise<number>;
  responseCacheInvalidate(sequenceKey: string, ...args: Array<string | number>): Promise<number>;
  responseCacheClearMark(sequenceKey: string, clearedKey: string, horizonSeconds: number): Promise<number>;
}

export interface RedisStoreOptions {
  /** Key prefix; every key is `{prefix}:...`, one hash slot, so the scripts also run on a cluster. */
  prefix: string;
  ttlMs: number;
  /** Largest response data stored, in bytes. */
  maxEntryBytes: number;
}

/**
 * Shared by every instance. An entry is `<meta JSON>\n<data JSON>`; the
 * store and the invalidation are Lua scripts, each atomic. Memory is bounded
 * by the TTL (and by Redis's own `maxmemory` policy). Commands fail fast
 * (src/redis/client.ts): the caller treats a failed read as a miss.
 */
export class RedisResponseStore implements ResponseStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly sequenceKey: string;

  constructor(
    redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {
    this.prefix = `{${options.prefix}}:`;
    this.sequenceKey = `${this.prefix}sequence`;
    if (!('responseCacheStore' in redis)) {
      redis.defineCommand('responseCacheStore', { numberOfKeys: 1, lua: STORE_SCRIPT });
      redis.defineCommand('responseCacheInvalidate', { numberOfKeys: 1, lua: INVALIDATE_SCRIPT });
      redis.defineCommand('responseCacheClearMark', { numberOfKeys: 2, lua: CLEAR_MARK_SCRIPT });
    }
    this.redis = redis as ScriptedRedis;
  }

  private entryKey(key: string): string {
    return `${this.prefix}e:${key}`;
  }

  async get(key: string): Promise<Lookup> {
    const [stored, sequence] = await this.redis.mget(this.entryKey(key), this.sequenceKey);
    const token = Number(sequence ?? 0);
    if (!stored) return { entry: undefined, token };
    const split = stored.indexOf('\n');
    const meta = JSON.parse(stored.slice(0, split)) as Omit<CachedResponse, 'data'>;
    return { entry: { ...meta, data: stored.slice(split + 1) }, token };
  }

  async sequence(): Promise<number> {
    return Number((await this.redis.get(this.sequenceKey)) ?? 0);
  }

  async set(key: string, entry: CachedResponse, tags: readonly string[], token: number): Promise<boolean> {
    if (entry.data.length > this.options.maxEntryBytes) return false;
    const { data, ...meta } = entry;
    const payload = `${JSON.stringify(meta)}\n${data}`;
    const stored = await this.redis.responseCacheStore(this.entryKey(key), token, payload, this.options.ttlMs, this.prefix, ...tags);
    return stored === 1;
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    await this.redis.responseCacheInvalidate(this.sequenceKey, Math.ceil(INVALIDATION_HORIZON_MS / 1000), this.prefix, ...tags);
  }

  /**
   * Marks the store cleared first (readers computing now will not store),
   * then deletes its entries and tag sets, a SCAN batch at a time so that
   * Redis is never blocked for long.
   */
  async clear(): Promise<void> {
    await this.redis.responseCacheClearMark(this.sequenceKey, `${this.prefix}cleared`, Math.ceil(INVALIDATION_HORIZON_MS / 1000));
    for (const kind of ['e', 't']) {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}${kind}:*`, 'COUNT', CLEAR_BATCH);
        if (keys.length > 0) await this.redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  }

  async close(): Promise<void> {
    // The client belongs to the application (src/app.ts closes it).
  }
}
