/**
 * Performance properties of the API, as ratios measured in one run (see
 * bench/README.md). `npm run bench`; results also go to bench/results/latest.json.
 *
 *   a. graphql-shield overhead on the catalogue query (shield on / off);
 *   b. no N+1: first: 5 vs first: 50 run the same statements;
 *   c. keyset pagination: a page 30 pages deep costs what page 1 costs
 *      (plus, SQL only, what OFFSET would cost);
 *   d. a signed-in request vs an anonymous one;
 *   e. checkout (signed in, a fresh Idempotency-Key per request);
 *   f. a customer's 20 newest orders with items, products and sellers.
 *
 * Nothing here fails on a threshold: the run exits 0 unless it cannot run.
 * Tunables (environment): BENCH_REQUESTS, BENCH_CONCURRENT_REQUESTS,
 * BENCH_CONCURRENCY, BENCH_CONCURRENT_ROUNDS, BENCH_WARMUP, BENCH_APP_WARMUP,
 * BENCH_EXPLAIN_RUNS;
 * DATABASE_URL to use an existing server instead of an embedded one.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';

import { buildApp } from '../src/app.js';
import { createAuthRuntime, type AuthRuntime } from '../src/auth/runtime.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { createDb } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { decodeCursor } from '../src/pagination/cursor.js';
import { startBenchDatabase } from './lib/database.js';
import { explainCompare, keysetPage, offsetPage } from './lib/explain.js';
import { GraphQLClient, graphqlBody } from './lib/http.js';
import { compare, once, warmUp, type RunOptions, type Variant, type VariantResult } from './lib/measure.js';
import { renderText, type BenchResults, type Check, type Ratio, type ScenarioResult } from './lib/report.js';
import { RequestLog } from './lib/request-log.js';
import { scenarioCheckout, scenarioMyOrders } from './lib/orders.js';
import { scaleFromArgs, seedCatalog, sizesForScale, type SeedSizes } from './lib/seed.js';
import { ratio, round } from './lib/stats.js';

// ---------------------------------------------------------------- parameters

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min} (got "${raw}")`);
  return value;
}

const PARAMS = {
  /** Measured sequential requests per variant. */
  requests: envInt('BENCH_REQUESTS', 200, 1),
  /** Measured requests per variant in the concurrent variant of scenario a. */
  concurrentRequests: envInt('BENCH_CONCURRENT_REQUESTS', 400, 1),
  concurrency: envInt('BENCH_CONCURRENCY', 8, 2),
  warmup: envInt('BENCH_WARMUP', 30, 2),
  /** Interleaved rounds of the concurrent variant (sequential ones alternate request by request). */
  concurrentRounds: envInt('BENCH_CONCURRENT_ROUNDS', 10, 1),
  /** Unmeasured catalogue requests to each app before the first scenario (JIT, pools, caches). */
  appWarmup: envInt('BENCH_APP_WARMUP', 150, 0),
  explainRuns: envInt('BENCH_EXPLAIN_RUNS', 30, 1),
  pageSize: 50,
  deepPages: 30,
};

/** `--scale N` seeds N x 100,000 products (bench/lib/seed.ts); without it, a 2,000-product catalogue. */
const SCALE = scaleFromArgs(process.argv.slice(2));
const SIZES: SeedSizes =
  SCALE === undefined ? { products: 2_000, categories: 10, sellers: 20, customers: 50, maxReviewsPerProduct: 5 } : sizesForScale(SCALE);

const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));

// ---------------------------------------------------------------- queries

/** The catalogue query of test/observability.test.ts. */
const CATALOG = `query Catalog($first: Int!) {
  products(first: $first) {
    totalCount
    edges { node {
      id title price { amount currency }
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`;

/** A lean page: the pagination itself, without the nested loads. */
const PAGE = `query Page($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges { cursor node { id title price { amount currency } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { accessToken user { id role } userErrors { code message } }
}`;

interface CatalogData {
  products: {
    totalCount: number;
    edges: { node: { id: string; seller: { displayName: string } | null; reviews: { nodes: { author: unknown }[] } } }[];
  };
}
interface PageData {
  products: { edges: { cursor: string; node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}
interface LogInData {
  logIn: { accessToken: string | null; user: { id: string; role: string } | null; userErrors: { code: string; message: string }[] };
}

function dataOf<T>(json: unknown): T | undefined {
  if (typeof json !== 'object' || json === null || !('data' in json)) return undefined;
  return (json as { data: T | null }).data ?? undefined;
}

function catalogValidator(first: number): (json: unknown) => string | null {
  return (json) => {
    const products = dataOf<CatalogData>(json)?.products;
    if (!products) return 'no data.products';
    if (products.edges.length !== first) return `expected ${first} edges, got ${products.edges.length}`;
    if (products.edges.some((e) => !e.node.seller)) return 'a product without its seller';
    if (!products.edges.some((e) => e.node.reviews.nodes.length > 0)) return 'no product with reviews on the page';
    return null;
  };
}

function pageValidator(first: number, firstNodeId?: string): (json: unknown) => string | null {
  return (json) => {
    const products = dataOf<PageData>(json)?.products;
    if (!products) return 'no data.products';
    if (products.edges.length !== first) return `expected ${first} edges, got ${products.edges.length}`;
    if (firstNodeId !== undefined && products.edges[0]?.node.id !== firstNodeId) return 'the page starts at another product';
    return null;
  };
}

// ---------------------------------------------------------------- teardown

/** Teardown steps, run last-registered first; each runs even if an earlier one fails. */
class Cleanup {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  private running: Promise<boolean> | undefined;

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  /** Resolves false when a step failed. Safe to call twice. */
  run(): Promise<boolean> {
    this.running ??= (async () => {
      let ok = true;
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (error) {
          ok = false;
          console.error(`teardown: ${step.name} failed:`, error);
        }
      }
      return ok;
    })();
    return this.running;
  }
}

// ---------------------------------------------------------------- helpers

interface RunningApp {
  client: GraphQLClient;
  app: FastifyInstance;
}

async function startApp(
  config: Config,
  options: { url: string; authorization: boolean; requestLog: RequestLog; auth: AuthRuntime; agent: http.Agent },
  cleanup: Cleanup,
): Promise<RunningApp> {
  const logger = options.requestLog.createLogger();
  const db = createDb(
    { url: options.url, poolMax: config.databasePoolMax, statementTimeoutMs: config.databaseStatementTimeoutMs },
    () => undefined,
  );
  cleanup.add(`database pool (authorization ${options.authorization ? 'on' : 'off'})`, () => db.destroy());
  const app = await buildApp({ config, db, logger, auth: options.auth, authorization: options.authorization });
  cleanup.add(`app (authorization ${options.authorization ? 'on' : 'off'})`, () => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('the app has no TCP address');
  return { app, client: new GraphQLClient(`http://127.0.0.1:${address.port}`, options.agent) };
}

function check(name: string, ok: boolean, detail: string, warnings: string[]): Check {
  if (!ok) warnings.push(`${name}: ${detail}`);
  return { name, ok, detail };
}

function r(name: string, value: number, reading: string): Ratio {
  return { name, value: round(value, 3), reading };
}

/** Client-side p50 of `a` over `b`, with the range of the same ratio over the fifths of the run. */
function p50Ratio(name: string, a: VariantResult, b: VariantResult, reading: string): Ratio {
  const perBlock = a.blockP50s.map((value, i) => ratio(value, b.blockP50s[i] ?? Number.NaN)).filter(Number.isFinite);
  return {
    ...r(name, ratio(a.latencyMs.p50, b.latencyMs.p50), reading),
    blocks: { min: round(Math.min(...perBlock), 3), max: round(Math.max(...perBlock), 3) },
  };
}

/** Sequential comparisons alternate request by request. */
const SEQUENTIAL: RunOptions = { requests: PARAMS.requests, concurrency: 1, warmup: PARAMS.warmup, rounds: PARAMS.requests };

function sameSqlCount(label: string, a: VariantResult, b: VariantResult, warnings: string[]): Check {
  const constant = a.sqlCount !== null && b.sqlCount !== null;
  const equal = constant && a.sqlCount === b.sqlCount;
  const detail = constant
    ? `${a.label} ${a.sqlCount}, ${b.label} ${b.sqlCount}${equal ? '' : ' (differ)'}`
    : `not constant per request: ${a.label} ${a.sqlCounts.join('|')}, ${b.label} ${b.sqlCounts.join('|')}`;
  return check(label, equal, detail, warnings);
}

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---------------------------------------------------------------- scenarios

async function scenarioShield(on: RunningApp, off: RunningApp, log: RequestLog, warnings: string[]): Promise<ScenarioResult> {
  const body = graphqlBody(CATALOG, { first: 50 }, 'Catalog');
  const variant = (label: string, app: RunningApp): Variant => ({ label, client: app.client, body, validate: catalogValidator(50) });
  const seqOptions = SEQUENTIAL;
  const [seqOn, seqOff] = (await compare([variant('shield on', on), variant('shield off', off)], seqOptions, log)) as [
    VariantResult,
    VariantResult,
  ];
  const concOptions: RunOptions = {
    requests: PARAMS.concurrentRequests,
    concurrency: PARAMS.concurrency,
    warmup: PARAMS.warmup,
    rounds: PARAMS.concurrentRounds,
  };
  const [concOn, concOff] = (await compare([variant('shield on', on), variant('shield off', off)], concOptions, log)) as [
    VariantResult,
    VariantResult,
  ];
  return {
    id: 'a',
    title: 'graphql-shield overhead: catalog first: 50 with seller, category, reviews(first: 3) and authors',
    shows:
      'What the permission layer costs on a read-heavy query. Fields whose rule is `allow` are left unwrapped ' +
      '(src/authz/shield.ts), so here only Query.products runs rules: expect ~1.00.',
    variants: [seqOn, seqOff, concOn, concOff],
    ratios: [
      p50Ratio('p50 on/off (sequential)', seqOn, seqOff, '1.00 = no overhead; 1.10 = 10 % slower with shield'),
      r('p95 on/off (sequential)', ratio(seqOn.latencyMs.p95, seqOff.latencyMs.p95), 'tail; noisier than p50'),
      r('server p50 on/off (sequential)', ratio(seqOn.serverMs.p50, seqOff.serverMs.p50), 'Fastify-measured, without client time'),
      r('throughput on/off (sequential)', ratio(seqOn.throughputRps, seqOff.throughputRps), '1.00 = no overhead; 0.90 = 10 % fewer requests/s'),
      p50Ratio(`p50 on/off (${PARAMS.concurrency} in flight)`, concOn, concOff, 'under load'),
      r(
        `throughput on/off (${PARAMS.concurrency} in flight)`,
        ratio(concOn.throughputRps, concOff.throughputRps),
        'CPU-bound capacity with shield relative to without',
      ),
    ],
    checks: [
      sameSqlCount('SQL statements per request, shield on = off (sequential)', seqOn, seqOff, warnings),
      sameSqlCount(`SQL statements per request, shield on = off (${PARAMS.concurrency} in flight)`, concOn, concOff, warnings),
    ],
    notes: [],
  };
}

async function scenarioPageSize(on: RunningApp, log: RequestLog, warnings: string[]): Promise<ScenarioResult> {
  const variant = (first: number): Variant => ({
    label: `first: ${first}`,
    client: on.client,
    body: graphqlBody(CATALOG, { first }, 'Catalog'),
    validate: catalogValidator(first),
  });
  const options = SEQUENTIAL;
  const [small, large] = (await compare([variant(5), variant(50)], options, log)) as [VariantResult, VariantResult];
  return {
    id: 'b',
    title: 'No N+1: catalog first: 5 vs first: 50 (shield on)',
    shows: 'Ten times the products (and their sellers, categories, reviews, authors) in the same number of statements.',
    variants: [small, large],
    ratios: [
      p50Ratio('p50 first:50 / first:5', large, small, 'grows with response size, not with round trips'),
      r('server p50 first:50 / first:5', ratio(large.serverMs.p50, small.serverMs.p50), 'Fastify-measured'),
      r('SQL ms sum p50 first:50 / first:5', ratio(large.sqlMsP50, small.sqlMsP50), 'database time for 10x the rows'),
    ],
    checks: [sameSqlCount('SQL statements per request, first: 5 = first: 50', small, large, warnings)],
    notes: [],
  };
}

async function scenarioKeyset(
  on: RunningApp,
  db: Kysely<Database>,
  visibleProducts: number,
  log: RequestLog,
  warnings: string[],
): Promise<ScenarioResult> {
  const size = PARAMS.pageSize;
  // The deep page must be full: at most (visible / size) - 1 pages are skipped.
  const depth = Math.max(1, Math.min(PARAMS.deepPages, Math.floor(visibleProducts / size) - 1));
  const pageVariant = (page: number, after: string | null, firstNodeId?: string): Variant => ({
    label: `page ${page}`,
    client: on.client,
    body: graphqlBody(PAGE, { first: size, after }, 'Page'),
    validate: pageValidator(size, firstNodeId),
  });

  // Walk the cursors to the deep page, the way a client would.
  let cursor: string | null = null;
  let secondPageCursor: string | null = null;
  for (let page = 1; page <= depth; page += 1) {
    const { json } = await once(pageVariant(page, cursor), log);
    const info = dataOf<PageData>(json)?.products.pageInfo;
    if (!info?.hasNextPage || !info.endCursor) throw new Error(`page ${page} has no next page`);
    cursor = info.endCursor;
    if (page === 1) secondPageCursor = cursor;
  }
  if (cursor === null || secondPageCursor === null) throw new Error('no cursor after the walk');
  const skipped = depth * size;

  // The same position as SQL, to compare with OFFSET; both must start at the row the API's deep page starts at.
  const position = decodeCursor(cursor, 'CREATED_AT', 'timestamp', 'after');
  const viaOffset = await offsetPage(skipped, size + 1).execute(db);
  const viaKeyset = await keysetPage(position, size + 1).execute(db);
  const offsetFirst = (viaOffset.rows[0] as { id: string } | undefined)?.id;
  const keysetFirst = (viaKeyset.rows[0] as { id: string } | undefined)?.id;
  const { json: deepJson } = await once(pageVariant(depth + 1, cursor), log);
  const apiFirst = dataOf<PageData>(deepJson)?.products.edges[0]?.node.id;
  const samePosition = offsetFirst !== undefined && apiFirst === toGlobalId('Product', offsetFirst) && keysetFirst === offsetFirst;

  // Page 2 carries a cursor too: deep / page 2 isolates depth from the (constant) cost of having a cursor.
  const variants = [pageVariant(1, null), pageVariant(2, secondPageCursor), pageVariant(depth + 1, cursor, apiFirst)];
  const [first, second, deep] = (await compare(variants, SEQUENTIAL, log)) as [VariantResult, VariantResult, VariantResult];

  const explained = await explainCompare(
    db,
    [
      { label: 'OFFSET 0 LIMIT 51 (page 1)', query: offsetPage(0, size + 1) },
      { label: `OFFSET ${skipped} LIMIT 51 (page ${depth + 1})`, query: offsetPage(skipped, size + 1) },
      { label: `keyset after row ${skipped} LIMIT 51 (page ${depth + 1})`, query: keysetPage(position, size + 1) },
    ],
    PARAMS.explainRuns,
  );
  const [offsetFirstPage, offsetDeep, keysetDeep] = explained as [
    (typeof explained)[number],
    (typeof explained)[number],
    (typeof explained)[number],
  ];

  return {
    id: 'c',
    title: `Keyset pagination depth: pages 1 and 2 vs page ${depth + 1} (after ${depth} cursor hops, ${skipped} rows in; shield on)`,
    shows: 'A keyset page seeks in the index from the cursor, so a deep page costs what the first one does; OFFSET reads and discards every skipped row.',
    variants: [first, second, deep],
    ratios: [
      p50Ratio(`p50 page ${depth + 1} / page 2 (API)`, deep, second, '~1.00 = depth does not matter (both carry a cursor)'),
      p50Ratio(`p50 page ${depth + 1} / page 1 (API)`, deep, first, 'includes decoding and applying a cursor'),
      r(`server p50 page ${depth + 1} / page 2 (API)`, ratio(deep.serverMs.p50, second.serverMs.p50), 'Fastify-measured'),
      r(
        `SQL exec OFFSET ${skipped} / keyset (SQL only)`,
        ratio(offsetDeep.executionMs, keysetDeep.executionMs),
        'what OFFSET pagination would cost at this depth, relative to keyset',
      ),
      r(
        `SQL exec OFFSET ${skipped} / OFFSET 0 (SQL only)`,
        ratio(offsetDeep.executionMs, offsetFirstPage.executionMs),
        'OFFSET grows with depth',
      ),
      r(
        `rows scanned OFFSET ${skipped} / keyset (SQL only)`,
        ratio(offsetDeep.rowsScanned, keysetDeep.rowsScanned),
        'work, independent of timer noise',
      ),
    ],
    checks: [
      sameSqlCount(`SQL statements per request, page 1 = page ${depth + 1}`, first, deep, warnings),
      sameSqlCount(`SQL statements per request, page 2 = page ${depth + 1}`, second, deep, warnings),
      check(
        'API deep page, OFFSET and keyset SQL start at the same product',
        samePosition,
        samePosition ? `row ${skipped + 1} of the visible catalogue` : `API ${apiFirst}, OFFSET ${offsetFirst}, keyset ${keysetFirst}`,
        warnings,
      ),
    ],
    notes: [
      'The API rows use a lean page query (id, title, price, cursors), so pagination is not hidden behind nested loads.',
      `The SQL rows are EXPLAIN (ANALYZE, FORMAT JSON) medians of ${PARAMS.explainRuns} runs each, on the same database; they are not requests.`,
    ],
    sql: explained,
  };
}

async function scenarioSignedIn(on: RunningApp, account: { email: string; password: string }, log: RequestLog, warnings: string[]): Promise<ScenarioResult> {
  const login = await once(
    {
      label: 'logIn',
      client: on.client,
      body: graphqlBody(LOG_IN, { input: { ...account, refreshTokenDelivery: 'PAYLOAD' } }, 'LogIn'),
      validate: (json) => (dataOf<LogInData>(json)?.logIn.accessToken ? null : 'logIn returned no access token'),
    },
    log,
  );
  const token = dataOf<LogInData>(login.json)?.logIn.accessToken;
  if (!token) throw new Error('logIn returned no access token');

  const body = graphqlBody(CATALOG, { first: 50 }, 'Catalog');
  const anonymous: Variant = { label: 'anonymous', client: on.client, body, validate: catalogValidator(50) };
  const signedIn: Variant = { ...anonymous, label: 'signed in (Bearer JWT)', headers: { authorization: `Bearer ${token}` } };
  const options = SEQUENTIAL;
  const [anon, signed] = (await compare([anonymous, signedIn], options, log)) as [VariantResult, VariantResult];
  const added = anon.sqlCount !== null && signed.sqlCount !== null ? signed.sqlCount - anon.sqlCount : null;
  return {
    id: 'd',
    title: 'Signed-in vs anonymous: catalog first: 50 (shield on)',
    shows: 'Authentication verifies the JWT and re-reads the user and session on every request: a fixed cost, not one per field.',
    variants: [anon, signed],
    ratios: [
      p50Ratio('p50 signed-in / anonymous', signed, anon, 'cost of authentication on a typical read'),
      r('server p50 signed-in / anonymous', ratio(signed.serverMs.p50, anon.serverMs.p50), 'Fastify-measured'),
      r('throughput signed-in / anonymous', ratio(signed.throughputRps, anon.throughputRps), 'below 1 = fewer requests/s'),
    ],
    checks: [
      check(
        'authentication adds a fixed number of statements',
        added !== null && added >= 0,
        added === null
          ? `statement counts not constant: anonymous ${anon.sqlCounts.join('|')}, signed in ${signed.sqlCounts.join('|')}`
          : `+${added} (anonymous ${anon.sqlCount}, signed in ${signed.sqlCount})`,
        warnings,
      ),
    ],
    notes: [
      `logIn itself (argon2id verification, session insert): ${login.line.durationMs} ms server-side, ${login.line.sqlCount} statements; measured once, not part of the ratios.`,
    ],
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  const cleanup = new Cleanup();
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: tearing down`);
    // Tearing down cuts connections still in use: expected now, not a crash.
    process.on('uncaughtException', (error) => progress(`ignored while tearing down: ${error.message}`));
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  let failed = false;
  try {
    const tempDir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-bench-'));
    cleanup.add('temporary directory', () => rm(tempDir, { recursive: true, force: true }));
    // Last resort when the process exits before the teardown ran (a signal's exit hook).
    process.once('exit', () => rmSync(tempDir, { recursive: true, force: true }));

    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database = await startBenchDatabase();
    cleanup.add('database', () => database.stop());

    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      JWT_KEY_FILE: path.join(tempDir, 'jwt', 'signing-keys.json'),
      GRAPHQL_SANDBOX: 'false',
      GRAPHQL_INTROSPECTION: 'false',
      // Thousands of measured requests from one address: the per-principal cost budget must not refuse them.
      RATE_LIMIT_BUDGET: '1000000000',
    });
    const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 120_000 }, () => undefined);
    cleanup.add('seed pool', () => db.destroy());
    await migrateToLatest(db);
    progress(`seeding ${SIZES.products} products`);
    const seed = await seedCatalog(db, SIZES);
    progress(`seeded in ${seed.seconds.toFixed(1)} s: ${seed.visibleProducts} visible products, ${seed.reviews} reviews`);
    const { rows: versionRows } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);

    const requestLog = new RequestLog();
    const auth = await createAuthRuntime(config);
    cleanup.add('auth runtime', () => auth.close());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    cleanup.add('HTTP agent', async () => agent.destroy());
    // Each app has its own pool (DATABASE_POOL_MAX, default 10) over the same database.
    const shared = { url: database.url, requestLog, auth, agent };
    const on = await startApp(config, { ...shared, authorization: true }, cleanup);
    const off = await startApp(config, { ...shared, authorization: false }, cleanup);

    progress(`warming up both apps (${PARAMS.appWarmup} catalogue requests each)`);
    const catalog50 = graphqlBody(CATALOG, { first: 50 }, 'Catalog');
    for (const app of [on, off]) {
      await warmUp({ label: 'warm-up', client: app.client, body: catalog50, validate: catalogValidator(50) }, PARAMS.appWarmup, requestLog);
    }

    const warnings: string[] = [];
    const scenarios: ScenarioResult[] = [];
    progress('a. shield on vs off');
    scenarios.push(await scenarioShield(on, off, requestLog, warnings));
    progress('b. first: 5 vs first: 50');
    scenarios.push(await scenarioPageSize(on, requestLog, warnings));
    progress('c. keyset pagination depth');
    scenarios.push(await scenarioKeyset(on, db, seed.visibleProducts, requestLog, warnings));
    progress('d. signed in vs anonymous');
    scenarios.push(await scenarioSignedIn(on, seed.account, requestLog, warnings));
    const commerce = {
      client: on.client,
      db,
      account: seed.account,
      log: requestLog,
      warnings,
      sequential: { ...SEQUENTIAL, rounds: 1 },
      concurrent: { requests: PARAMS.concurrentRequests, concurrency: PARAMS.concurrency, warmup: PARAMS.warmup, rounds: 1 },
    };
    progress('e. checkout');
    scenarios.push(await scenarioCheckout(commerce));
    progress('f. my orders');
    scenarios.push(await scenarioMyOrders(commerce));
    if (requestLog.errors.length > 0) {
      warnings.push(`the application logged ${requestLog.errors.length} error line(s), e.g. "${requestLog.errors[0]}"`);
    }

    const cpus = os.cpus();
    const results: BenchResults = {
      generatedAt: new Date().toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      environment: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpus.length,
        cpuModel: cpus[0]?.model.trim() ?? 'unknown',
        database: database.detail,
        postgres: `PostgreSQL ${versionRows[0]?.v ?? '?'}`,
      },
      parameters: { ...PARAMS },
      seed: {
        products: seed.products,
        visibleProducts: seed.visibleProducts,
        categories: seed.categories,
        sellers: seed.sellers,
        customers: seed.customers,
        reviews: seed.reviews,
      },
      scenarios,
      warnings,
    };
    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log(renderText(results));
    console.log(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } catch (error) {
    failed = true;
    if (!interrupted) console.error('benchmark failed:', error);
  } finally {
    progress('tearing down');
    const tornDown = await cleanup.run();
    if (!tornDown) failed = true;
  }
  // Exit explicitly, with the outcome: handles still open (an HTTP agent's
  // sockets closing) must not keep the process alive or decide its code.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(failed ? 1 : 0);
}

await main();
