/**
 * The shared cache of anonymous query responses, at the HTTP edge of
 * `/graphql` (src/http/graphql-route.ts calls it around Apollo).
 *
 * Who shares: only requests that carry no credential at all (no
 * `Authorization` header, no refresh-token cookie) and no
 * `Idempotency-Key`. They all see the same public data, so one anonymous
 * caller's response may serve another. A signed-in caller never reads from
 * the cache and is never stored: their answers may hold what only they may see.
 *
 * The key: the schema (a new deployment never serves an old shape), the
 * negotiated media type, the SHA-256 of the document (for a persisted-query
 * hash, the hash itself, which is the same digest), the operation name and
 * the variables' JSON text.
 *
 * What is stored: only a query's `data`, when the response is 200 with data
 * and no errors at all (no partial answers), together with its tags
 * (src/cache/tag-collection.ts) and cost. A hit charges the same cost to the
 * caller's budget as running it would, answers with a fresh `requestId`, and
 * never reaches authentication, Apollo or the database.
 *
 * HTTP caching: a cacheable anonymous GET gets `Cache-Control: public,
 * max-age=<RESPONSE_CACHE_HTTP_MAX_AGE_SECONDS>`, a weak `ETag` of its data
 * and `Vary: Accept, Authorization`; `If-None-Match` with that tag is
 * answered 304. Every other anonymous response is `no-store` (signed-in
 * ones are `private, no-store`, set by the response plugin).
 *
 * Invalidation: the cache is the application's change feed
 * (src/scope/changes.ts). After a unit of work commits, the tags of its
 * changes (src/cache/tags.ts) are dropped from the store before the writer's
 * response is sent, so the writer, and with the Redis store every instance,
 * reads the new rows next. When the store cannot take an invalidation
 * (Redis away, or its breaker open), the tags are deferred and replayed as
 * soon as the breaker closes; until then this instance neither reads nor
 * stores, so it never serves an entry its own write made stale.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { OperationTypeNode } from 'graphql';

import type { CostLimiter } from '../limits/cost-limiter.js';
import { MEDIA_TYPES } from '../http/media-type.js';
import { RATE_LIMIT_POLICY } from '../limits/cost.plugin.js';
import { countResponseCache } from '../observability/metrics.js';
import type { Change, ChangeFeed } from '../scope/changes.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { RedisBreaker } from '../redis/client.js';
import { INVALIDATION_HORIZON_MS, type CachedResponse, type ResponseStore } from './store.js';
import type { ResponseCapture } from './tag-collection.js';
import { tagsOfChanges } from './tags.js';
import { acceptOf, addVary, isRecord, isShareable, mediaTypeChooser, matchesEtag, operationOf, passesCsrfPrevention, sha256, SHA256_HEX, VARY, weakEtag } from './cache-http.js';

export interface ResponseCacheOptions {
  store: ResponseStore;
  /** The query-cost budgets: a hit costs what running the operation cost. */
  limiter: CostLimiter;
  /** `max-age` of cacheable GET responses. */
  httpMaxAgeSeconds: number;
  /** Identifies the schema (a digest of its SDL); part of every key. */
  schemaId: string;
  /** Whether a request may name its document by hash alone (persisted queries or trusted documents). */
  hashOnlyDocuments: boolean;
  log: FastifyBaseLogger;
  /** The breaker of the store's Redis client: while open the store is not asked; when it closes, deferred invalidations are replayed. */
  breaker?: RedisBreaker;
  /** With read replicas: the token a response read on a replica is stored with. */
  freshness?: ReadFreshness;
}

/**
 * With read replicas (src/db/replicas.ts): a response read on a replica may
 * hold rows older than an invalidation made before its lookup, which the
 * store's token (taken at the lookup) does not see. It is stored with the
 * token of the invalidation sequence the replica is known to have caught up
 * with instead: then the store refuses it when one of its tags was
 * invalidated since.
 */
export interface ReadFreshness {
  /** Where to read the store's invalidation sequence, which the replica monitor notes with each measurement. */
  watchSequence(read: () => Promise<number>): void;
  /** For the running request: `token` after reading the primary; after a replica, the sequence it had caught up with (if older); undefined when unknown (not stored). */
  tokenFor(token: number): number | undefined;
}

/**
 * Most distinct tags kept for replay after invalidations the store did not
 * take (about 100 bytes each); past it, the whole store is cleared when it
 * answers again instead.
 */
export const MAX_DEFERRED_TAGS = 10_000;

/** What a miss remembers until its response is known. */
interface PendingMiss {
  key: string;
  token: number;
  startedAt: number;
  capture: ResponseCapture;
}

interface ResponseBody {
  data?: unknown;
  errors?: unknown[];
  extensions?: { cost?: { requested?: unknown; actual?: unknown } };
}

export class ResponseCache implements ChangeFeed {
  private readonly pending = new WeakMap<FastifyRequest, PendingMiss>();
  /**
   * Invalidations the store did not take (Redis away or silent): each tag
   * with the deferral that last added it. They are replayed as soon as the
   * store answers again, before this instance reads from or writes to it.
   */
  private readonly deferred = new Map<string, number>();
  /** More than MAX_DEFERRED_TAGS were deferred: the whole store is cleared instead of replaying them. */
  private clearOwed = false;
  /** Counts deferrals, so that a replay keeps what was deferred while it ran. */
  private deferrals = 0;
  private replaying: Promise<void> | undefined;
  /** The media type Apollo would answer with, or null when it would refuse the `Accept` header (406). */
  private readonly mediaTypeOf = mediaTypeChooser();
  private readonly policy: string;

  constructor(private readonly options: ResponseCacheOptions) {
    this.policy = `"${RATE_LIMIT_POLICY}";q=${options.limiter.budget};w=${options.limiter.windowSeconds}`;
    // Runs as the breaker closes, before any other command reaches Redis.
    options.breaker?.onChange(({ state }) => {
      if (state === 'closed') this.replay();
    });
    options.freshness?.watchSequence(() => options.store.sequence());
  }

  /** The cache key of a request that may share a response, or undefined when it may not. */
  private keyOf(request: FastifyRequest): string | undefined {
    if (!isShareable(request) || !passesCsrfPrevention(request)) return undefined;
    const mediaType = this.mediaTypeOf(acceptOf(request));
    if (mediaType === null) return undefined;
    const operation = operationOf(request);
    if (!operation) return undefined;
    let documentHash: string;
    if (operation.query !== undefined) {
      documentHash = sha256(operation.query, 'hex');
      // Apollo refuses a hash that does not match the text: never answer for it.
      if (operation.hash !== undefined && operation.hash !== documentHash) return undefined;
    } else {
      if (!this.options.hashOnlyDocuments || operation.hash === undefined || !SHA256_HEX.test(operation.hash)) return undefined;
      documentHash = operation.hash;
    }
    // A JSON array: no operation name differs from an empty one (which names no operation), and no
    // value can run into the next.
    return sha256(JSON.stringify([this.options.schemaId, mediaType, documentHash, operation.operationName, operation.variables]), 'base64url');
  }

  /** True when the store holds no response that a deferred invalidation should have dropped. */
  private settled(): boolean {
    return this.deferred.size === 0 && !this.clearOwed;
  }

  /** Whether the store is known to be away (its Redis breaker is open): it is not asked at all then. */
  private storeAway(): boolean {
    return this.options.breaker?.state === 'open';
  }

  /** Keeps the tags of an invalidation the store did not take, to replay it later. */
  private defer(tags: readonly string[]): void {
    this.deferrals += 1;
    countResponseCache('invalidation_deferred');
    if (this.clearOwed) return;
    for (const tag of tags) this.deferred.set(tag, this.deferrals);
    if (this.deferred.size > MAX_DEFERRED_TAGS) {
      this.deferred.clear();
      this.clearOwed = true;
    }
  }

  /** Starts replaying what was deferred, unless it is under way, nothing is owed, or the store is away. */
  private replay(): void {
    if (this.replaying || this.settled() || this.storeAway()) return;
    this.replaying = this.replayOnce().finally(() => {
      this.replaying = undefined;
    });
  }

  private async replayOnce(): Promise<void> {
    const started = this.deferrals;
    const clear = this.clearOwed;
    const tags = [...this.deferred];
    try {
      if (clear) await this.options.store.clear();
      else await this.options.store.invalidate(tags.map(([tag]) => tag));
    } catch (error) {
      this.options.log.debug({ err: error }, 'response cache: deferred invalidations not replayed yet');
      return;
    }
    if (clear) {
      // A deferral during the clear was not recorded tag by tag: clear again.
      if (this.deferrals === started) this.clearOwed = false;
      countResponseCache('flush');
    } else {
      for (const [tag, deferral] of tags) if (this.deferred.get(tag) === deferral) this.deferred.delete(tag);
      countResponseCache('invalidation_replayed');
    }
    this.options.log.debug({ tags: tags.length, clear }, 'response cache: deferred invalidations replayed');
  }

  /**
   * Answers the request from the cache when it can (returns true, the reply
   * is sent). Otherwise returns false, and remembers a miss so that the
   * response can be stored afterwards.
   */
  async serve(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const key = this.keyOf(request);
    if (key === undefined || this.storeAway()) return this.bypass(request);
    if (!this.settled()) {
      // The store may hold responses a deferred write changed: not read until the replay is done.
      this.replay();
      return this.bypass(request);
    }
    let lookup;
    try {
      lookup = await this.options.store.get(key);
    } catch (error) {
      // An outage is logged once, by the Redis client's breaker; not once per request.
      request.log.debug({ err: error }, 'response cache unreachable; running the operation');
      return this.bypass(request);
    }
    const { entry } = lookup;
    if (!entry) {
      this.pending.set(request, { key, token: lookup.token, startedAt: Date.now(), capture: { tags: new Set(), query: false } });
      countResponseCache('miss');
      request.stats.responseCache = 'miss';
      return false;
    }
    const cost = await this.charge(request, reply, entry);
    // Over budget: the operation runs the normal way, which refuses it with 429 and charges nothing.
    if (cost === 'refused') return this.bypass(request);
    request.stats.operationName = entry.operationName ?? undefined;
    request.stats.responseCache = 'hit';
    if (request.method === 'GET') {
      this.publicHeaders(reply, entry.etag);
      if (matchesEtag(request.headers['if-none-match'], entry.etag)) {
        countResponseCache('not_modified');
        await reply.code(304).send();
        return true;
      }
    } else {
      void reply.header('cache-control', 'no-store');
    }
    countResponseCache('hit');
    const extensions = JSON.stringify({ requestId: request.id, ...(cost ? { cost } : {}) });
    await reply
      .code(200)
      .header('content-type', this.mediaTypeOf(acceptOf(request)) ?? MEDIA_TYPES.json)
      .send(`{"data":${entry.data},"extensions":${extensions}}`);
    return true;
  }

  private bypass(request: FastifyRequest): false {
    countResponseCache('bypass');
    request.stats.responseCache = 'bypass';
    return false;
  }

  /** Charges a hit's cost as the cost plugin would charge the operation, setting the same headers. */
  private async charge(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: CachedResponse,
  ): Promise<{ requested: number; actual: number; remaining: number | null } | null | 'refused'> {
    if (!entry.cost) return null;
    const { requested, actual } = entry.cost;
    const principal = `ip:${request.ip}`;
    try {
      const charged = await this.options.limiter.charge(principal, requested);
      if (!charged.allowed) return 'refused';
      const state = requested > actual ? await this.options.limiter.refund(principal, requested - actual, charged.windowEndsAt) : charged;
      void reply.header('ratelimit-policy', this.policy);
      if (state) void reply.header('ratelimit', `"${RATE_LIMIT_POLICY}";r=${state.remaining};t=${state.resetSeconds}`);
      return { requested, actual, remaining: state?.remaining ?? null };
    } catch (error) {
      request.log.error({ err: error }, 'query-cost limiter failed; cached response served uncharged');
      return { requested, actual, remaining: null };
    }
  }

  private publicHeaders(reply: FastifyReply, etag: string): void {
    void reply.header('cache-control', `public, max-age=${this.options.httpMaxAgeSeconds}`).header('etag', etag);
    addVary(reply, VARY);
  }

  /** Before Apollo runs a missed request: its context collects the response's tags. */
  prepare(request: FastifyRequest): void {
    const miss = this.pending.get(request);
    const context = request.graphqlContext;
    if (miss && context && context.viewer === null) context.responseCache = miss.capture;
  }

  /**
   * After Apollo answered: stores a cacheable response, sets the caching
   * headers of an anonymous one (304 when the client holds its data), and
   * returns the body to send.
   */
  async complete(request: FastifyRequest, reply: FastifyReply, body: string): Promise<string> {
    // A signed-in caller's response is `private, no-store` already (response plugin).
    if (request.graphqlContext?.viewer) return body;
    const miss = this.pending.get(request);
    this.pending.delete(request);
    const stored = miss && request.graphqlContext?.responseCache === miss.capture ? this.cacheable(request, reply, body, miss) : undefined;
    if (!miss || !stored) {
      void reply.header('cache-control', 'no-store');
      return body;
    }
    // Read on a replica: stored only if none of its tags was invalidated after what the replica had replayed.
    const token = this.options.freshness ? this.options.freshness.tokenFor(miss.token) : miss.token;
    // An invalidation still owed may concern this response's rows: it is not stored until that is settled.
    if (token !== undefined && Date.now() - miss.startedAt < INVALIDATION_HORIZON_MS && this.settled() && !this.storeAway()) {
      try {
        const tags = [...miss.capture.tags];
        if (await this.options.store.set(miss.key, stored, tags, token)) countResponseCache('store');
      } catch (error) {
        request.log.debug({ err: error }, 'response cache unreachable; response not stored');
      }
    }
    if (request.method !== 'GET') {
      void reply.header('cache-control', 'no-store');
      return body;
    }
    this.publicHeaders(reply, stored.etag);
    if (matchesEtag(request.headers['if-none-match'], stored.etag)) {
      void reply.code(304);
      return '';
    }
    return body;
  }

  /** The entry to store for a response, or undefined when it must not be shared. */
  private cacheable(request: FastifyRequest, reply: FastifyReply, body: string, miss: PendingMiss): CachedResponse | undefined {
    if (!miss.capture.query || reply.statusCode !== 200 || reply.hasHeader('set-cookie')) return undefined;
    let parsed: ResponseBody;
    try {
      parsed = JSON.parse(body) as ResponseBody;
    } catch {
      return undefined;
    }
    if (parsed.errors !== undefined || !isRecord(parsed.data)) return undefined;
    const data = JSON.stringify(parsed.data);
    const { requested, actual } = parsed.extensions?.cost ?? {};
    return {
      data,
      etag: weakEtag(data),
      operationName: request.stats.operationName ?? null,
      cost: typeof requested === 'number' && typeof actual === 'number' ? { requested, actual } : null,
    };
  }

  /** The change feed: drops every stored response a committed write touched. */
  async publish(changes: readonly Change[]): Promise<void> {
    const tags = tagsOfChanges(changes);
    if (tags.length === 0) return;
    countResponseCache('invalidation');
    if (this.storeAway()) {
      this.defer(tags);
      return;
    }
    try {
      await this.options.store.invalidate(tags);
    } catch (error) {
      // Replayed before this instance reads the store again (docs/guides/caching.md). An outage is
      // logged once by the Redis client's breaker and counted in /metrics, not logged per write.
      this.defer(tags);
      this.options.log.debug({ err: error, tags: tags.length }, 'response cache invalidation deferred until the store answers');
    }
  }

  /** Apollo plugin: tells the capture whether the operation is a query. */
  plugin(): ApolloServerPlugin<GraphQLContext> {
    return {
      async requestDidStart() {
        return {
          async didResolveOperation({ contextValue, operation }) {
            if (contextValue.responseCache) contextValue.responseCache.query = operation?.operation === OperationTypeNode.QUERY;
          },
        };
      },
    };
  }

  async close(): Promise<void> {
    await this.options.store.close();
  }
}
