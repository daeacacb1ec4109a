/**
 * `npm run drill:migration`: a schema change made in phases, carried out
 * under load (docs/operations/migrations.md, docs/operations/performance.md).
 *
 *   1. Builds the API (`npm run build`, unless --no-build), starts the
 *      benchmark's database (embedded, or a scratch database on
 *      DATABASE_URL's server), migrates it as the release before the change
 *      left it (every migration before 2026_12_08_0015), seeds the catalogue
 *      (`--scale`, default 0.1: 10,000 products) and `--orders` orders
 *      (default 30,000) in every status.
 *   2. Starts the production build (`node dist/src/main.js`, NODE_ENV
 *      production, the job worker in the process, TRANSITION_REFRESH_MS
 *      `--refresh-ms`, the response cache off) over it: this release's code
 *      on the previous release's schema, as during a deploy.
 *   3. Loads it with `--connections` keep-alive connections (default 16),
 *      half of them reading the catalogue (bench:peer's page of 50 by price,
 *      with sellers, categories, three reviews each, and `soldCount`), half
 *      checking out (a signed-in customer, two products of two sellers from
 *      a pool of 200, a fresh Idempotency-Key each), in three windows of
 *      `--duration` seconds (default 60), back to back:
 *        baseline   nothing else happens;
 *        migration  after 5 s: the expand migration (0015, 0016), then, once
 *                   the server writes both shapes, the backfill (jobs:
 *                   `--batch-size` rows a batch, `--pause-ms` between, each
 *                   job `--run-ms` long, default 3 s, then the next), then
 *                   the switch of reads, once the server reads the column;
 *        after      reads switched; after 5 s the contract migration (0017).
 *   4. Checks that `products.sold_count` equals the count over the orders for
 *      every product, prints each window's figures, and fails (exit 1)
 *      unless no request failed and each load's p99 in the migration window
 *      is within 2x of the baseline's. Results: bench/results/drill-migration.json.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { sql, type Kysely } from 'kysely';

import { migrations } from '../migrations/index.js';
import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { DEFAULT_MIGRATION_RUN_OPTIONS, migrateToLatest } from '../src/db/migrator.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { countUnitsSold } from '../src/modules/products/sold-count.repository.js';
import { soldCountTransition } from '../src/modules/products/sold-count.service.js';
import { startBackfill, switchReads } from '../src/transitions/commands.js';
import type { TransitionPhase } from '../src/transitions/phases.js';
import { startBenchDatabase, type BenchDatabase } from './lib/database.js';
import { closedLoop, type LoadRequest, type LoadResult } from './lib/load.js';
import { seedOrderHistory } from './lib/order-history.js';
import { startProductionServer, type ProductionServer } from './lib/production-server.js';
import { BENCH_ACCOUNT, scaleFromArgs, seedCatalog, sizesForScale } from './lib/seed.js';
import { percentile } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'drill-migration.json');
/** The first migration of this change: the release before it had every migration before this one. */
const FIRST_OF_THE_CHANGE = '2026_12_08_0015_schema_transitions';
const METRICS_TOKEN = `drill-${randomUUID()}`;
const CONTRACT: string = soldCountTransition.contract ?? missing('a contract migration');

function missing(what: string): never {
  throw new Error(`${soldCountTransition.name} declares no ${what}`);
}
/** p99 in the migration window at most this many times the baseline's. */
const P99_LIMIT = 2;

function option(name: string, fallback: number, min: number, max: number): number {
  const argv = process.argv.slice(2);
  const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return fallback;
  const arg = argv[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max} (got "${raw ?? ''}")`);
  return value;
}

const OPTIONS = {
  scale: scaleFromArgs(process.argv.slice(2)) ?? 0.1,
  orders: Math.round(option('orders', 30_000, 0, 10_000_000)),
  durationSeconds: Math.round(option('duration', 60, 10, 3_600)),
  connections: Math.round(option('connections', 16, 2, 1_000)),
  batchSize: Math.round(option('batch-size', 500, 1, 5_000)),
  pauseMs: Math.round(option('pause-ms', 100, 0, 60_000)),
  // Shorter than the job's default (10 s), so that the backfill of 10,000 products runs as a chain of jobs under the load.
  runMs: Math.round(option('run-ms', 3_000, 100, 600_000)),
  refreshMs: Math.round(option('refresh-ms', 1_000, 100, 60_000)),
  build: !process.argv.includes('--no-build'),
};

const CATALOG = `query Catalog($first: Int!) {
  products(first: $first, orderBy: { field: PRICE, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title price { amount currency } soldCount
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`;

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { orders { id total { amount currency } } userErrors { code message } }
}`;

const progress = (message: string) => console.error(`[drill] ${message}`);

// ---------------------------------------------------------------- steps

interface Steps {
  expandMs: number;
  /** From the end of the expand to the server writing both shapes. */
  dualWriteSeenMs: number;
  backfillMs: number;
  backfill: { scanned: number; changed: number; batches: number; meanBatchMs: number | null; jobs: number | undefined };
  /** From the switch command to the server reading the column. */
  switchSeenMs: number;
  /** performance.now() of the first and last step, for the figures of requests that started in between. */
  from: number;
  to: number;
}

async function scrape(server: ProductionServer): Promise<string> {
  const res = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}

async function phaseSeen(server: ProductionServer, phase: TransitionPhase, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  const line = `schema_transition_phase{transition="${soldCountTransition.name}",phase="${phase}"} 1`;
  while (!(await scrape(server)).includes(line)) {
    if (performance.now() - started > timeoutMs) throw new Error(`the server did not reach ${phase} within ${timeoutMs} ms`);
    await delay(50);
  }
  return performance.now() - started;
}

function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{transition="${soldCountTransition.name}"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Backfill jobs the server's worker finished (`job_duration_seconds_count` of the task, outcome ok; the label as BoundedLabel writes it). */
function backfillJobs(text: string): number | undefined {
  const task = `task="${soldCountTransition.backfill.task.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}"`;
  const line = text.split('\n').find((l) => l.startsWith('job_duration_seconds_count{') && l.includes(task) && l.includes('outcome="ok"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const upTo = (last: string) => Object.fromEntries(Object.entries(migrations).filter(([name]) => name <= last));
const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < FIRST_OF_THE_CHANGE));

/** Expand, backfill, switch: what an operator runs, in order, with the server under load. */
async function expandBackfillSwitch(db: Kysely<Database>, server: ProductionServer): Promise<Steps> {
  const from = performance.now();
  await migrateToLatest(db, { ...DEFAULT_MIGRATION_RUN_OPTIONS, migrations: upTo(soldCountTransition.expand) });
  const expandMs = performance.now() - from;
  const dualWriteSeenMs = await phaseSeen(server, 'expanded');
  const backfillStarted = performance.now();
  await startBackfill(db, soldCountTransition, { batchSize: OPTIONS.batchSize, pauseMs: OPTIONS.pauseMs, runMs: OPTIONS.runMs });
  for (;;) {
    const row = await db.selectFrom('schema_transitions').selectAll().where('name', '=', soldCountTransition.name).executeTakeFirstOrThrow();
    if (row.backfill_completed_at) {
      const backfillMs = performance.now() - backfillStarted;
      const metrics = await scrape(server);
      const sum = metricValue(metrics, 'schema_transition_backfill_batch_seconds_sum');
      const count = metricValue(metrics, 'schema_transition_backfill_batch_seconds_count');
      const switchAt = performance.now();
      await switchReads(db, soldCountTransition, true);
      await phaseSeen(server, 'switched');
      const switchSeenMs = performance.now() - switchAt;
      const to = performance.now();
      // The jobs of the chain, once the last has ended (it commits the completion before it returns).
      const jobs = await delay(1_000).then(async () => backfillJobs(await scrape(server)));
      return {
        expandMs,
        dualWriteSeenMs,
        backfillMs,
        backfill: {
          scanned: Number(row.backfill_scanned),
          changed: Number(row.backfill_changed),
          batches: row.backfill_batches,
          meanBatchMs: sum !== undefined && count ? (sum / count) * 1000 : null,
          jobs,
        },
        switchSeenMs,
        from,
        to,
      };
    }
    await delay(100);
  }
}

// ---------------------------------------------------------------- load

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

interface WindowResult {
  name: string;
  catalog: LoadResult;
  checkout: LoadResult;
  samples: { catalog: Sample[]; checkout: Sample[] };
}

function catalogRequest(): LoadRequest {
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: Buffer.from(JSON.stringify({ query: CATALOG, variables: { first: 50 }, operationName: 'Catalog' })),
  };
}

function catalogAccepted(status: number, body: string): boolean {
  return status === 200 && body.startsWith('{"data":{"products":') && !body.includes('"errors"');
}

function checkoutRequests(token: string, cart: Array<{ id: string; seller: string }>): () => LoadRequest {
  return () => {
    const first = cart[Math.floor(Math.random() * cart.length)] as { id: string; seller: string };
    const others = cart.filter((p) => p.seller !== first.seller);
    const second = others[Math.floor(Math.random() * others.length)] as { id: string; seller: string };
    const items = [first, second].map((p) => ({ productId: toGlobalId('Product', p.id), quantity: 1 }));
    return {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
      body: Buffer.from(JSON.stringify({ query: CHECKOUT, variables: { input: { items } }, operationName: 'Checkout' })),
    };
  };
}

function checkoutAccepted(status: number, body: string): boolean {
  return status === 200 && body.startsWith('{"data":{"checkout":{"orders":[{') && body.includes('"userErrors":[]') && !body.includes('"errors"');
}

async function loadWindow(
  name: string,
  server: ProductionServer,
  checkoutRequest: () => LoadRequest,
  durationMs: number,
  during: () => Promise<unknown>,
): Promise<{ window: WindowResult; during: unknown }> {
  const catalogConnections = Math.ceil(OPTIONS.connections / 2);
  const samples: WindowResult['samples'] = { catalog: [], checkout: [] };
  const record = (into: Sample[]) => (at: number, ms: number, ok: boolean) => into.push({ at, ms, ok });
  const [catalog, checkout, outcome] = await Promise.all([
    closedLoop({ baseUrl: server.baseUrl, request: catalogRequest(), connections: catalogConnections, durationMs, accept: catalogAccepted, onResult: record(samples.catalog) }),
    closedLoop({ baseUrl: server.baseUrl, request: checkoutRequest, connections: OPTIONS.connections - catalogConnections, durationMs, accept: checkoutAccepted, onResult: record(samples.checkout) }),
    during(),
  ]);
  return { window: { name, catalog, checkout, samples }, during: outcome };
}

/** p99 and count of the accepted requests that started between `from` and `to`. */
function between(samples: readonly Sample[], from: number, to: number): { requests: number; errors: number; p99Ms: number } {
  const inside = samples.filter((s) => s.at >= from && s.at <= to);
  const ok = inside.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
  return { requests: ok.length, errors: inside.length - ok.length, p99Ms: ok.length > 0 ? percentile(ok, 99) : Number.NaN };
}

// ---------------------------------------------------------------- checks

/** Products whose column differs from the count over their orders. */
async function mismatches(db: Kysely<Database>): Promise<{ products: number; wrong: number }> {
  const rows = await db.selectFrom('products').select(['id', 'sold_count']).orderBy('id').execute();
  let wrong = 0;
  for (let i = 0; i < rows.length; i += 1_000) {
    const slice = rows.slice(i, i + 1_000);
    const counted = new Map((await countUnitsSold(db, slice.map((r) => r.id))).map((r) => [r.id, r.units]));
    wrong += slice.filter((r) => r.sold_count !== counted.get(r.id)).length;
  }
  return { products: rows.length, wrong };
}

// ---------------------------------------------------------------- main

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => progress(`cleanup failed: ${String(error)}`));
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    if (OPTIONS.build) {
      progress('building (npm run build; --no-build skips it)');
      const built = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
      if (built.status !== 0) throw new Error('npm run build failed');
    }
    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database: BenchDatabase = await startBenchDatabase();
    cleanups.push(() => database.stop());
    const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 600_000 }, () => undefined);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db, { ...DEFAULT_MIGRATION_RUN_OPTIONS, migrations: before });
    const sizes = sizesForScale(OPTIONS.scale);
    progress(`seeding the previous release's schema: ${sizes.products} products, ${OPTIONS.orders} orders`);
    const seeded = await seedCatalog(db, sizes);
    const history = await seedOrderHistory(db, OPTIONS.orders);
    progress(`seeded in ${(seeded.seconds + history.seconds).toFixed(1)} s (${history.units} units in orders)`);
    const { rows: version } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);

    const server = await startProductionServer(
      database.url,
      {
        JWT_SIGNING_KEYS: await generateSigningJwks(),
        RATE_LIMIT_BUDGET: '1000000000',
        LOGIN_LIMIT_PER_IP: '100000',
        RESPONSE_CACHE: 'off',
        WORKER: 'on',
        TRANSITION_REFRESH_MS: String(OPTIONS.refreshMs),
        METRICS_TOKEN,
        LOG_LEVEL: 'warn',
      },
      // Its readiness waits for this release's migrations, which the drill applies under load.
      { readyPath: '/health/live' },
    );
    cleanups.push(() => server.stop());
    await phaseSeen(server, 'before');

    const login = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($input: LogInInput!) { logIn(input: $input) { accessToken } }', variables: { input: { ...BENCH_ACCOUNT, refreshTokenDelivery: 'PAYLOAD' } } }),
    });
    const token = ((await login.json()) as { data?: { logIn?: { accessToken?: string } } }).data?.logIn?.accessToken;
    if (!token) throw new Error('logIn returned no access token');
    // Two hundred products of several sellers, stocked so that the run cannot sell out.
    const cart = (
      await db.selectFrom('products').select(['id', 'seller_id']).where('status', '=', 'ACTIVE').where('deleted_at', 'is', null).orderBy('created_at', 'desc').limit(200).execute()
    ).map((row) => ({ id: row.id, seller: row.seller_id }));
    await db.updateTable('products').set({ stock: 1_000_000 }).where('id', 'in', cart.map((p) => p.id)).execute();
    const checkoutRequest = checkoutRequests(token, cart);

    const durationMs = OPTIONS.durationSeconds * 1_000;
    progress('warming up (5 s)');
    await loadWindow('warm-up', server, checkoutRequest, 5_000, async () => undefined);
    progress(`baseline: ${OPTIONS.durationSeconds} s of load`);
    const baseline = (await loadWindow('baseline', server, checkoutRequest, durationMs, async () => undefined)).window;
    progress(`migration: ${OPTIONS.durationSeconds} s of load; expand, backfill and switch from 5 s on`);
    const migration = await loadWindow('migration', server, checkoutRequest, durationMs, async () => {
      await delay(5_000);
      return expandBackfillSwitch(db, server);
    });
    const steps = migration.during as Steps;
    if (steps.to - steps.from > durationMs - 5_000) progress('WARNING: the steps outlasted the migration window');
    progress(`after: ${OPTIONS.durationSeconds} s of load on the switched reads; the contract migration from 5 s on`);
    const after = await loadWindow('after', server, checkoutRequest, durationMs, async () => {
      await delay(5_000);
      const started = performance.now();
      await migrateToLatest(db, { ...DEFAULT_MIGRATION_RUN_OPTIONS, migrations: upTo(CONTRACT) });
      const contractMs = performance.now() - started;
      await phaseSeen(server, 'contracted');
      return contractMs;
    });
    const contractMs = after.during as number;
    const consistency = await mismatches(db);

    // ------------------------------------------------------------ report
    const windows = [baseline, migration.window, after.window];
    const failed = windows.reduce((sum, w) => sum + w.catalog.errors + w.checkout.errors, 0);
    const ratio = { catalog: migration.window.catalog.p99Ms / baseline.catalog.p99Ms, checkout: migration.window.checkout.p99Ms / baseline.checkout.p99Ms };
    const duringSteps = { catalog: between(migration.window.samples.catalog, steps.from, steps.to), checkout: between(migration.window.samples.checkout, steps.from, steps.to) };
    const pass = failed === 0 && ratio.catalog <= P99_LIMIT && ratio.checkout <= P99_LIMIT && consistency.wrong === 0;
    const catalogConnections = Math.ceil(OPTIONS.connections / 2);

    console.log(
      `\nmigration drill: ${soldCountTransition.name} (${soldCountTransition.description}); ${sizes.products} products, ${OPTIONS.orders} orders; ` +
        `${OPTIONS.connections} connections (${catalogConnections} catalogue, ${OPTIONS.connections - catalogConnections} checkout), windows of ${OPTIONS.durationSeconds} s; ` +
        `${database.detail}, PostgreSQL ${version[0]?.v ?? '?'}, Node ${process.versions.node}\n`,
    );
    console.log('window     load       requests  errors    req/s   p50 ms   p99 ms');
    for (const w of windows) {
      for (const [label, r] of [['catalogue', w.catalog], ['checkout', w.checkout]] as const) {
        console.log(
          `${w.name.padEnd(10)} ${label.padEnd(9)} ${String(r.requests).padStart(9)} ${String(r.errors).padStart(7)} ${fixed(r.requestsPerSecond).padStart(8)} ${fixed(r.p50Ms).padStart(8)} ${fixed(r.p99Ms).padStart(8)}`,
        );
      }
    }
    console.log(
      `\nwhile the steps ran (${fixed((steps.to - steps.from) / 1000)} s of the migration window): catalogue ${duringSteps.catalog.requests} requests, p99 ${fixed(duringSteps.catalog.p99Ms)} ms; ` +
        `checkout ${duringSteps.checkout.requests} requests, p99 ${fixed(duringSteps.checkout.p99Ms)} ms`,
    );
    console.log(
      `steps: expand migration ${fixed(steps.expandMs, 0)} ms; server writing both shapes ${fixed(steps.dualWriteSeenMs, 0)} ms later; ` +
        `backfill ${steps.backfill.scanned} rows (${steps.backfill.changed} changed) in ${steps.backfill.batches} batches of ${OPTIONS.batchSize} ` +
        `by ${steps.backfill.jobs ?? '?'} jobs of up to ${OPTIONS.runMs} ms, ${fixed(steps.backfillMs / 1000)} s` +
        `${steps.backfill.meanBatchMs !== null ? ` (mean batch ${fixed(steps.backfill.meanBatchMs)} ms, ${OPTIONS.pauseMs} ms pauses)` : ''}; ` +
        `reads switched, seen by the server ${fixed(steps.switchSeenMs, 0)} ms after the command; contract migration (after window) ${fixed(contractMs, 0)} ms`,
    );
    for (const w of windows) {
      for (const [label, r] of [['catalogue', w.catalog], ['checkout', w.checkout]] as const) {
        if (r.firstError !== undefined) console.log(`first failure, ${w.name} ${label}: ${r.firstError}`);
      }
    }
    console.log(`consistency: products.sold_count equals the count over the orders for ${consistency.products - consistency.wrong} of ${consistency.products} products`);
    console.log(
      `verdict: ${failed} failed requests; p99 migration / baseline: catalogue ${fixed(ratio.catalog, 2)}x, checkout ${fixed(ratio.checkout, 2)}x (limit ${P99_LIMIT}x): ${pass ? 'PASS' : 'FAIL'}`,
    );

    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    const strip = (w: WindowResult) => ({ name: w.name, catalog: w.catalog, checkout: w.checkout });
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify({ options: OPTIONS, database: database.source, postgres: version[0]?.v, node: process.versions.node, windows: windows.map(strip), steps, duringSteps, contractMs, consistency, ratio, failed, pass }, null, 2)}\n`,
    );
    await stop();
    process.exit(pass ? 0 : 1);
  } catch (error) {
    await stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(2);
});
