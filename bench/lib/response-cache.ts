/**
 * The response-cache scenario: the catalog query against two production
 * servers over one database, one with the shared response cache
 * (RESPONSE_CACHE=memory) and one without (off), anonymous, under the same
 * closed-loop load, in interleaved rounds so that drift lands on both.
 * Reusable by any bench entry point (bench/cache.ts runs it on its own).
 */
import { generateSigningJwks } from '../../src/auth/signing-keys.js';
import { closedLoop, type LoadRequest, type LoadResult } from './load.js';
import { startProductionServer, type ProductionServer } from './production-server.js';

/** The catalog query of the peer comparison: 50 products with seller, category and three reviews with authors. */
export const CACHE_CATALOG = `query Catalog($first: Int!) {
  products(first: $first, orderBy: { field: PRICE, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title price { amount currency }
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`;

export interface CacheScenarioOptions {
  databaseUrl: string;
  connections: number;
  roundMs: number;
  rounds: number;
  /** Called before each measured round, for progress output. */
  progress?: (message: string) => void;
}

export interface CacheScenarioResult {
  cached: LoadResult;
  uncached: LoadResult;
  /** cached req/s over uncached req/s. */
  ratio: number;
}

/** The mean req/s of rounds, their summed counts, and the median round's percentiles. */
export function mergeRounds(results: readonly LoadResult[]): LoadResult {
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    requests,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    requestsPerSecond: results.reduce((sum, r) => sum + r.requestsPerSecond, 0) / Math.max(1, results.length),
    // Per-round percentiles; the median round's figure is reported.
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
  };
}

function catalogRequest(): LoadRequest {
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: Buffer.from(JSON.stringify({ query: CACHE_CATALOG, variables: { first: 50 }, operationName: 'Catalog' })),
  };
}

/** A 200 with data and no errors: anything else counts as an error. */
function isGoodAnswer(status: number, body: string): boolean {
  return status === 200 && body.startsWith('{"data":{"products":') && !body.includes('"errors"');
}

export async function runCacheScenario(options: CacheScenarioOptions): Promise<CacheScenarioResult> {
  const common = {
    JWT_SIGNING_KEYS: await generateSigningJwks(),
    // Thousands of requests from one address: the per-principal cost budget must not refuse them.
    RATE_LIMIT_BUDGET: '1000000000',
  };
  const servers: ProductionServer[] = [];
  try {
    const cached = await startProductionServer(options.databaseUrl, { ...common, RESPONSE_CACHE: 'memory' });
    servers.push(cached);
    const uncached = await startProductionServer(options.databaseUrl, { ...common, RESPONSE_CACHE: 'off' });
    servers.push(uncached);
    const request = catalogRequest();
    const load = (baseUrl: string, durationMs: number) =>
      closedLoop({ baseUrl, request, connections: options.connections, durationMs, accept: isGoodAnswer });
    // Warm-up: JIT, pools, and the cache's first (and only) miss.
    await Promise.all([load(cached.baseUrl, 2_000), load(uncached.baseUrl, 2_000)]);
    const cachedRounds: LoadResult[] = [];
    const uncachedRounds: LoadResult[] = [];
    for (let round = 0; round < options.rounds; round++) {
      // A B, then B A: each side goes first as often as the other.
      const order = round % 2 === 0 ? (['cached', 'uncached'] as const) : (['uncached', 'cached'] as const);
      for (const side of order) {
        options.progress?.(`round ${round + 1}/${options.rounds}: ${side}`);
        const result = await load(side === 'cached' ? cached.baseUrl : uncached.baseUrl, options.roundMs);
        (side === 'cached' ? cachedRounds : uncachedRounds).push(result);
      }
    }
    const summary = { cached: mergeRounds(cachedRounds), uncached: mergeRounds(uncachedRounds) };
    return { ...summary, ratio: summary.cached.requestsPerSecond / summary.uncached.requestsPerSecond };
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}
