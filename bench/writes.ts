/**
 * `npm run bench:writes`: keyed writes through the API against the same
 * transactions written by hand over `pg`, on one database, in interleaved
 * rounds (docs/operations/performance.md, "Writes against their SQL").
 *
 *   1. Builds the API (`npm run build`, unless --no-build) and starts the
 *      benchmark's database (embedded, or a scratch database on
 *      DATABASE_URL's server): 200 products of 20 sellers, all ACTIVE with
 *      ample stock, and `connections` x 10 customers with a password, each with
 *      a DELIVERED order of every seller's products (so they may review any).
 *   2. Starts the production build (`node dist/src/main.js`, NODE_ENV
 *      production, RESPONSE_CACHE=off, WORKER=off: the job worker runs in a
 *      process of its own in production, docker-compose.yml) and a load
 *      process for each side (bench/lib/write-worker.ts), each behind its own
 *      counting proxy (bench/lib/pg-counter.ts); signs the customers in; counts
 *      the statements of 20 sequential requests of each scenario on the wire.
 *   3. Starts the API again connected directly, with the two load processes
 *      (same Node as the API); then for each scenario a warm-up of each side
 *      and `--rounds` rounds of `--duration` seconds, the side that goes first
 *      alternating: `--connections` (16) callers in a closed loop, each with a
 *      fresh Idempotency-Key per request. Prints per side transactions per
 *      second, p50, p99, statements, CPU per transaction of the API process,
 *      of the load process and of the PostgreSQL backends serving each side
 *      (from /proc), and the ratio; writes bench/results/writes.json.
 *
 * The scenarios (bench/lib/write-scenarios.ts): `checkout` of a one-line
 * cart (the products in turn, each caller starting at another), `cancelOrder`
 * of the caller's unpaid one-line orders (made before each round), and
 * `createReview` of products the caller received (their reviews deleted
 * before each round).
 *
 * Options: --rounds N (3; 0: count and list statements only), --duration S (10), --connections N (16),
 * --warmup S (3), --pool N (10: the API's DATABASE_POOL_MAX and the
 * hand-written side's pool), --scenario checkout,cancelOrder,createReview
 * (all), --no-build, --current-node (the API and the load processes on the
 * Node running this script instead of Node 24), --profile (a CPU profile of
 * the API over each scenario's rounds, through its inspector, written to
 * bench/results/profiles-writes/ and summarised at the end), --statements (print the statements of
 * one request of each scenario and side).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { sql, type Kysely } from 'kysely';

import { hashPassword } from '../src/auth/passwords.js';
import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { startBenchDatabase } from './lib/database.js';
import { startStatementCounter, type StatementCounter } from './lib/pg-counter.js';
import { buildApi, cpuSeconds, median, node24, nodeVersion, ROOT, waitFor } from './lib/processes.js';
import { startProfiling } from './lib/inspector-profile.js';
import { freePort } from './lib/production-server.js';
import { summariseProfile } from './lib/profile.js';
import { seedCatalog } from './lib/seed.js';
import type { LoadResult } from './lib/load.js';
import type { WriteCommand } from './lib/write-worker.js';
import { WRITE_SCENARIOS, type BenchCustomer, type WriteJob, type WriteScenario } from './lib/write-scenarios.js';

const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'writes.json');
const PROFILE_DIR = path.join(ROOT, 'bench', 'results', 'profiles-writes');
const WORKER_SCRIPT = path.join(ROOT, 'bench', 'lib', 'write-worker.ts');

// ---------------------------------------------------------------- options

function option(name: string, fallback: number, min: number): number {
  const argv = process.argv.slice(2);
  const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return fallback;
  const arg = argv[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min} (got "${raw ?? ''}")`);
  return value;
}

function scenariosOption(): WriteScenario[] {
  const argv = process.argv.slice(2);
  const index = argv.findIndex((arg) => arg === '--scenario' || arg.startsWith('--scenario='));
  if (index < 0) return [...WRITE_SCENARIOS];
  const arg = argv[index] as string;
  const raw = (arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1]) ?? '';
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(WRITE_SCENARIOS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--scenario takes ${WRITE_SCENARIOS.join(', ')} (comma-separated); got "${raw}"`);
  return names as WriteScenario[];
}

function againstOption(): string | undefined {
  const argv = process.argv.slice(2);
  const index = argv.findIndex((arg) => arg === '--against' || arg.startsWith('--against='));
  if (index < 0) return undefined;
  const arg = argv[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  if (!raw) throw new Error('--against needs the path of another checkout');
  return path.resolve(raw);
}

const OPTIONS = {
  rounds: Math.round(option('rounds', 3, 0)),
  durationSeconds: option('duration', 10, 1),
  connections: Math.round(option('connections', 16, 1)),
  warmupSeconds: option('warmup', 3, 0),
  poolMax: Math.round(option('pool', 10, 1)),
  scenarios: scenariosOption(),
  build: !process.argv.includes('--no-build'),
  currentNode: process.argv.includes('--current-node'),
  profile: process.argv.includes('--profile'),
  /** Print the statements of one request of each scenario and side, as the counting proxy saw them. */
  listStatements: process.argv.includes('--statements'),
  /** Another checkout of this project, built (`npm run build` there), measured as a third side: before and after a change in one run. */
  against: againstOption(),
};

/** Customers per caller: each caller reviews 200 products per customer of its own, so a round needs a few. */
const CUSTOMERS_PER_CONNECTION = 10;
/** Unpaid orders made per caller before each cancelOrder run: more than a caller cancels in the longest run seen (~150/s). */
const ORDERS_PER_CONNECTION_SECOND = 150;

const progress = (message: string) => console.error(`[bench:writes ${new Date().toISOString().slice(11, 19)}] ${message}`);

// ---------------------------------------------------------------- data

interface BenchData {
  productIds: string[];
  customers: { userId: string; email: string }[];
}

const PASSWORD = 'bench-writer-password-2026';

/** 200 products for sale with ample stock; the writing customers, each with a DELIVERED order of every seller's products. */
async function prepareData(db: Kysely<Database>): Promise<BenchData> {
  await seedCatalog(db, { products: 200, categories: 10, sellers: 20, customers: 50, maxReviewsPerProduct: 0 });
  await sql`UPDATE products SET status = 'ACTIVE', deleted_at = NULL, stock = 100000000, currency = 'EUR'`.execute(db);
  const count = OPTIONS.connections * CUSTOMERS_PER_CONNECTION;
  const passwordHash = await hashPassword(PASSWORD);
  await sql`
    INSERT INTO users (email, display_name, role, password_hash)
    SELECT 'bench-writer-' || lpad(g.i::text, 4, '0') || '@example.test', 'Writer ' || g.i, 'CUSTOMER', ${passwordHash}
      FROM generate_series(1, ${count}) AS g(i)`.execute(db);
  const customers = (
    await sql<{ id: string; email: string }>`SELECT id, email FROM users WHERE email LIKE 'bench-writer-%' ORDER BY email`.execute(db)
  ).rows.map((row) => ({ userId: row.id, email: row.email }));
  // One DELIVERED order per (customer, seller) holding all of that seller's products: every customer may review every product.
  await sql`
    WITH plan AS (
      SELECT gen_random_uuid() AS order_id, u.id AS customer_id, s.seller_id, s.total
        FROM users u
        CROSS JOIN (SELECT seller_id, sum(price_amount) AS total FROM products GROUP BY seller_id) s
       WHERE u.email LIKE 'bench-writer-%'
    ), orders AS (
      INSERT INTO orders (id, customer_id, seller_id, status, currency, total_amount, paid_at, shipped_at, delivered_at)
      SELECT order_id, customer_id, seller_id, 'DELIVERED', 'EUR', total, now(), now(), now() FROM plan
    )
    INSERT INTO order_items (order_id, product_id, product_title, quantity, unit_price_amount, currency)
    SELECT plan.order_id, p.id, p.title, 1, p.price_amount, p.currency FROM plan JOIN products p ON p.seller_id = plan.seller_id`.execute(db);
  await sql`VACUUM (ANALYZE)`.execute(db);
  const productIds = (await sql<{ id: string }>`SELECT id FROM products ORDER BY id`.execute(db)).rows.map((row) => row.id);
  return { productIds, customers };
}

/** `perConnection` unpaid one-line orders for each caller's customer; the jobs that cancel them. */
async function unpaidOrders(db: Kysely<Database>, data: BenchData, perConnection: number): Promise<WriteJob[][]> {
  const customers = data.customers.slice(0, OPTIONS.connections).map((customer) => customer.userId);
  const { rows } = await sql<{ order_id: string; n: number }>`
    WITH plan AS (
      SELECT gen_random_uuid() AS order_id, c.n::int AS n, g.i, p.id AS product_id, p.seller_id, p.title, p.price_amount, p.currency, c.id AS customer_id
        FROM unnest(${customers}::uuid[]) WITH ORDINALITY AS c(id, n)
        CROSS JOIN generate_series(1, ${perConnection}) AS g(i)
        JOIN products p ON p.id = (${data.productIds}::uuid[])[1 + (c.n::int * 13 + g.i) % ${data.productIds.length}]
    ), orders AS (
      INSERT INTO orders (id, customer_id, seller_id, status, currency, total_amount)
      SELECT order_id, customer_id, seller_id, 'PENDING_PAYMENT', currency, price_amount FROM plan
    ), items AS (
      INSERT INTO order_items (order_id, product_id, product_title, quantity, unit_price_amount, currency)
      SELECT order_id, product_id, title, 1, price_amount, currency FROM plan
    )
    SELECT order_id, n FROM plan ORDER BY n, i`.execute(db);
  const jobs: WriteJob[][] = customers.map(() => []);
  for (const row of rows) jobs[row.n - 1]?.push({ customer: row.n - 1, target: row.order_id });
  return jobs;
}

/** Each caller's (customer, product) pairs to review, its customers' earlier reviews deleted first. */
async function reviewJobs(db: Kysely<Database>, data: BenchData): Promise<WriteJob[][]> {
  await sql`DELETE FROM reviews WHERE author_id = ANY(${data.customers.map((c) => c.userId)}::uuid[])`.execute(db);
  const products = data.productIds.length;
  return Array.from({ length: OPTIONS.connections }, (_, connection) =>
    Array.from({ length: CUSTOMERS_PER_CONNECTION }, (_, k) => connection + k * OPTIONS.connections).flatMap((customer) =>
      // Callers start at different products, so that two seldom review the same product at the same moment.
      Array.from({ length: products }, (_, j) => ({ customer, target: data.productIds[(connection * 13 + j) % products] as string })),
    ),
  );
}

/** Checkout: each caller buys the products in turn, starting at a different one (200 products, 16 callers: seldom the same row at once). */
function checkoutJobs(data: BenchData): WriteJob[][] {
  const products = data.productIds.length;
  return Array.from({ length: OPTIONS.connections }, (_, connection) =>
    Array.from({ length: products }, (_, j) => ({ customer: connection, target: data.productIds[(connection * 13 + j) % products] as string })),
  );
}

/** What one run of a scenario needs: the jobs, and whether they may be used again. */
async function jobsFor(scenario: WriteScenario, db: Kysely<Database>, data: BenchData, seconds: number): Promise<{ jobs: WriteJob[][]; cycle: boolean }> {
  switch (scenario) {
    case 'checkout':
      return { jobs: checkoutJobs(data), cycle: true };
    case 'cancelOrder':
      return { jobs: await unpaidOrders(db, data, Math.ceil(seconds * ORDERS_PER_CONNECTION_SECOND) + 20), cycle: false };
    case 'createReview':
      return { jobs: await reviewJobs(db, data), cycle: false };
  }
}

// ---------------------------------------------------------------- processes

interface ApiServer {
  url: string;
  child: ChildProcess;
  /** The inspector's port, when started for profiling. */
  inspectPort: number | undefined;
  counter: StatementCounter | undefined;
  errorLines: string[];
}

async function startApi(node: string, root: string, databaseUrl: string, signingKeys: string, counted: boolean, profile: boolean): Promise<ApiServer> {
  const counter = counted ? await startStatementCounter(databaseUrl) : undefined;
  const port = await freePort();
  const inspectPort = profile ? await freePort() : undefined;
  const child = spawn(node, [...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []), 'dist/src/main.js'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: counter?.url ?? databaseUrl,
      DATABASE_POOL_MAX: String(OPTIONS.poolMax),
      MIGRATE_ON_START: 'false',
      RESPONSE_CACHE: 'off',
      // In production the job worker is a process of its own (docker-compose.yml); here it would only poll.
      WORKER: 'off',
      JWT_SIGNING_KEYS: signingKeys,
      // The customers sign in once, before the run.
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      // Many measured requests from few callers: the per-principal cost budget must not refuse them.
      RATE_LIMIT_BUDGET: '1000000000',
    },
  });
  const server: ApiServer = { url: `http://127.0.0.1:${port}`, child, inspectPort, counter, errorLines: [] };
  createInterface({ input: child.stdout }).on('line', (line) => {
    // pino levels: 50 error, 60 fatal.
    if (/"level":(50|60)/.test(line) && server.errorLines.length < 20) server.errorLines.push(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    // The inspector announces itself on stderr.
    if (!/^(Debugger listening on|For help, see:|Debugger attached)/.test(line) && server.errorLines.length < 20) server.errorLines.push(line);
  });
  await waitFor(async () => (await fetch(`${server.url}/health/ready`)).ok, 'the API', child);
  return server;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

type RunResult = LoadResult & { exhausted: number; cpuMs: number };

/** A load process (bench/lib/write-worker.ts): one command at a time. */
class LoadProcess {
  private readonly answers: ((line: string) => void)[] = [];

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.answers.shift()?.(line));
  }

  static start(node: string, options: { mode: 'api'; apiUrl: string } | { mode: 'hand'; databaseUrl: string; poolMax: number }): LoadProcess {
    const child = spawn(node, ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(options)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    return new LoadProcess(child);
  }

  run(command: WriteCommand): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load process exited (${code}) during a run`));
      this.child.once('exit', onExit);
      this.answers.push((line) => {
        this.child.off('exit', onExit);
        const answer = JSON.parse(line) as { ok: true; result: RunResult } | { ok: false; error: string };
        if (answer.ok) resolve(answer.result);
        else reject(new Error(`load process: ${answer.error}`));
      });
      this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    });
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    if (this.child.exitCode === null) await new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    clearTimeout(timer);
  }
}

/** CPU seconds of the PostgreSQL backends whose application_name is `name`, by pid (from /proc). */
async function backendCpu(db: Kysely<Database>, name: string): Promise<Map<number, number>> {
  const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE application_name = ${name}`.execute(db);
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const seconds = cpuSeconds(pid);
    if (seconds !== undefined) cpu.set(pid, seconds);
  }
  return cpu;
}

/** CPU the backends used between two readings (a backend that started in between counts from 0). */
function backendDelta(before: Map<number, number>, after: Map<number, number>): number | undefined {
  if (after.size === 0) return undefined;
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

async function logIn(apiUrl: string, email: string): Promise<string> {
  const response = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      query: 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { code } } }',
      variables: { input: { email, password: PASSWORD, refreshTokenDelivery: 'PAYLOAD' } },
    }),
  });
  const json = (await response.json()) as { data?: { logIn?: { accessToken?: string | null } } };
  const token = json.data?.logIn?.accessToken;
  if (!token) throw new Error(`logIn of ${email} failed: ${JSON.stringify(json).slice(0, 300)}`);
  return token;
}

// ---------------------------------------------------------------- main

/** `api`: this checkout's build; `other`: the build of `--against`; `hand`: the transactions by hand. */
type Side = 'api' | 'other' | 'hand';

interface Round {
  scenario: WriteScenario;
  round: number;
  side: Side;
  requests: number;
  tps: number;
  p50: number;
  p99: number;
  errors: number;
  firstError?: string;
  exhausted: number;
  /** CPU per transaction, ms: the API process (API sides only), the load process, the PostgreSQL backends of the side. */
  serverCpuMs?: number;
  loadCpuMs: number;
  postgresCpuMs?: number;
}

const fmt = (value: number | undefined, digits = 0) => (value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits));

/** The checkout's commit (its folder's name when it is not a git checkout) and whether src/ has uncommitted changes. */
function gitHead(dir: string): { commit: string; dirty: boolean } {
  // A copy that is not a checkout of its own (an exported tree inside this one, say) is named by its folder, not by the enclosing repository's HEAD.
  const top = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8' }).stdout?.trim();
  if (!top || path.resolve(top) !== path.resolve(dir)) return { commit: path.basename(dir), dirty: false };
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).stdout?.trim() || path.basename(dir);
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: dir, encoding: 'utf8' }).stdout.trim() !== '';
  return { commit, dirty };
}

async function main(): Promise<void> {
  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error('teardown:', error));
    cleanups.length = 0;
  };
  let interrupted = false;
  const interrupt = () => {
    if (interrupted) return;
    interrupted = true;
    progress('interrupted: tearing down');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  let failed = false;
  try {
    const node = OPTIONS.currentNode ? process.execPath : node24();
    const version = nodeVersion(node);
    if (OPTIONS.build) buildApi(progress);
    const against = OPTIONS.against;
    if (against && !existsSync(path.join(against, 'dist', 'src', 'main.js'))) throw new Error(`--against ${against}: no dist/src/main.js there (run npm run build in it)`);
    const heads: Partial<Record<Side, { commit: string; dirty: boolean }>> = { api: gitHead(ROOT), ...(against ? { other: gitHead(against) } : {}) };
    const names: Record<Side, string> = {
      api: `this API (${heads.api?.commit}${heads.api?.dirty ? '+' : ''})`,
      other: `this API, --against (${heads.other?.commit}${heads.other?.dirty ? '+' : ''})`,
      hand: 'by hand over pg',
    };
    const sides: Side[] = against ? ['api', 'other', 'hand'] : ['api', 'hand'];
    const rootOf = (side: Side) => (side === 'other' && against ? against : ROOT);
    if (OPTIONS.profile) await rm(PROFILE_DIR, { recursive: true, force: true });

    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database = await startBenchDatabase();
    cleanups.push(() => database.stop());
    const db = createDb({ url: database.url, poolMax: 2, statementTimeoutMs: 600_000 }, () => undefined);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    progress('seeding: 200 products, the writing customers and their delivered orders');
    const data = await prepareData(db);
    const { rows: versionRows } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);
    const signingKeys = await generateSigningJwks();
    const kept = cleanups.length;

    // 1. Statements per request, on the wire, each side behind a counting proxy.
    progress('starting each side behind a counting proxy');
    const counters = new Map<Side, { load: LoadProcess; counter: StatementCounter }>();
    const customers: BenchCustomer[] = [];
    for (const side of sides) {
      if (side === 'hand') {
        const counter = await startStatementCounter(database.url);
        cleanups.push(() => counter.close());
        const load = LoadProcess.start(node, { mode: 'hand', databaseUrl: counter.url, poolMax: OPTIONS.poolMax });
        cleanups.push(() => load.stop());
        counters.set(side, { load, counter });
        continue;
      }
      const server = await startApi(node, rootOf(side), database.url, signingKeys, true, false);
      cleanups.push(() => stopProcess(server.child));
      if (!server.counter) throw new Error('no counting proxy');
      const counter = server.counter;
      cleanups.push(() => counter.close());
      if (customers.length === 0) {
        progress(`signing in ${data.customers.length} customers`);
        for (let i = 0; i < data.customers.length; i += 4) {
          const batch = data.customers.slice(i, i + 4);
          const tokens = await Promise.all(batch.map((customer) => logIn(server.url, customer.email)));
          batch.forEach((customer, j) => customers.push({ userId: customer.userId, token: tokens[j] as string }));
        }
      }
      const load = LoadProcess.start(node, { mode: 'api', apiUrl: server.url });
      cleanups.push(() => load.stop());
      counters.set(side, { load, counter });
    }
    const statements = new Map<string, number>();
    const listings = new Map<string, string[]>();
    for (const scenario of OPTIONS.scenarios) {
      for (const [side, { load, counter }] of counters) {
        const { jobs } = await jobsFor(scenario, db, data, 0);
        const sequence = (jobs[0] ?? []).slice(0, 21);
        const last = sequence.pop();
        if (!last) throw new Error('nothing to count');
        const before = counter.statements;
        const result = await load.run({ scenario, connections: 1, durationMs: 600_000, customers, jobs: [sequence], cycle: false });
        if (result.errors > 0 || result.requests !== sequence.length) throw new Error(`${scenario} (${side}) failed while counting: ${result.firstError}`);
        statements.set(`${scenario} ${side}`, (counter.statements - before) / result.requests);
        // One more, alone, for the listing of its statements.
        counter.takeTexts();
        await load.run({ scenario, connections: 1, durationMs: 600_000, customers, jobs: [[last]], cycle: false });
        listings.set(`${scenario} ${side}`, counter.takeTexts());
      }
      progress(`${scenario}, statements per request: ${sides.map((side) => `${names[side]} ${fmt(statements.get(`${scenario} ${side}`), 1)}`).join(', ')}`);
    }
    // Stopped before the load: the proxies would add CPU of their own, in proportion to the statements.
    while (cleanups.length > kept) await cleanups.pop()?.();

    // 2. The load rounds, every side connected directly.
    progress(`starting the API${against ? 's' : ''} again, connected directly${OPTIONS.profile ? ', with the inspector open for profiling' : ''}`);
    const servers = new Map<Side, ApiServer>();
    const loads = new Map<Side, LoadProcess>();
    for (const side of sides) {
      if (side === 'hand') {
        const load = LoadProcess.start(node, { mode: 'hand', databaseUrl: database.url, poolMax: OPTIONS.poolMax });
        cleanups.push(() => load.stop());
        loads.set(side, load);
        continue;
      }
      const server = await startApi(node, rootOf(side), database.url, signingKeys, false, OPTIONS.profile && side === 'api');
      cleanups.push(() => stopProcess(server.child));
      servers.set(side, server);
      const load = LoadProcess.start(node, { mode: 'api', apiUrl: server.url });
      cleanups.push(() => load.stop());
      loads.set(side, load);
    }

    const runSide = async (scenario: WriteScenario, side: Side, seconds: number, round: number): Promise<Round> => {
      const { jobs, cycle } = await jobsFor(scenario, db, data, seconds);
      const load = loads.get(side);
      if (!load) throw new Error(`no load process for ${side}`);
      // Both builds' pools are `marketplace-api`: only the side under load does work in its round.
      const application = side === 'hand' ? 'bench-hand-written' : 'marketplace-api';
      const server = servers.get(side);
      const pgBefore = await backendCpu(db, application);
      const serverBefore = cpuSeconds(server?.child.pid);
      const result = await load.run({ scenario, connections: OPTIONS.connections, durationMs: seconds * 1000, customers, jobs, cycle });
      const serverAfter = cpuSeconds(server?.child.pid);
      const pgUsed = backendDelta(pgBefore, await backendCpu(db, application));
      const per = (used: number | undefined) => (used === undefined || result.requests === 0 ? undefined : (used * 1000) / result.requests);
      return {
        scenario,
        round,
        side,
        requests: result.requests,
        tps: result.requestsPerSecond,
        p50: result.p50Ms,
        p99: result.p99Ms,
        errors: result.errors,
        ...(result.firstError ? { firstError: result.firstError } : {}),
        exhausted: result.exhausted,
        ...(serverBefore !== undefined && serverAfter !== undefined ? { serverCpuMs: per(serverAfter - serverBefore) } : {}),
        loadCpuMs: result.requests > 0 ? result.cpuMs / result.requests : Number.NaN,
        ...(pgUsed !== undefined ? { postgresCpuMs: per(pgUsed) } : {}),
      };
    };

    const rounds: Round[] = [];
    const loadAverages: number[] = [];
    const profiles: { scenario: WriteScenario; file: string }[] = [];
    const inspectPort = servers.get('api')?.inspectPort;
    for (const scenario of OPTIONS.scenarios) {
      if (OPTIONS.warmupSeconds > 0 && OPTIONS.rounds > 0) {
        progress(`${scenario}: warming up, ${OPTIONS.warmupSeconds} s each`);
        for (const side of sides) await runSide(scenario, side, OPTIONS.warmupSeconds, 0);
      }
      const profiler = inspectPort !== undefined && OPTIONS.rounds > 0 ? await startProfiling(inspectPort) : undefined;
      for (let round = 1; round <= OPTIONS.rounds; round += 1) {
        // Who goes first moves along each round, so drift over the run lands on every side.
        const order = sides.map((_, i) => sides[(i + round - 1) % sides.length] as Side);
        for (const side of order) {
          progress(`${scenario} round ${round}/${OPTIONS.rounds}: ${names[side]}, ${OPTIONS.durationSeconds} s, ${OPTIONS.connections} callers`);
          loadAverages.push(os.loadavg()[0] ?? 0);
          const result = await runSide(scenario, side, OPTIONS.durationSeconds, round);
          if (result.exhausted > 0) progress(`WARNING: ${result.exhausted} callers ran out of work before the round ended`);
          rounds.push(result);
        }
      }
      if (profiler) {
        const file = path.join(PROFILE_DIR, `${scenario}.cpuprofile`);
        await mkdir(PROFILE_DIR, { recursive: true });
        await writeFile(file, JSON.stringify(await profiler.stop()));
        profiles.push({ scenario, file });
      }
    }

    const cpus = os.cpus();
    const summaries = OPTIONS.scenarios.map((scenario) => {
      const bySide = sides.map((side) => {
        const mine = rounds.filter((r) => r.scenario === scenario && r.side === side && r.round > 0);
        const medianOf = (pick: (r: Round) => number | undefined) => {
          const values = mine.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
          return values.length === mine.length && values.length > 0 ? median(values) : undefined;
        };
        return {
          side,
          name: names[side],
          tps: mine.reduce((sum, r) => sum + r.tps, 0) / mine.length,
          p50: medianOf((r) => r.p50) ?? Number.NaN,
          p99: medianOf((r) => r.p99) ?? Number.NaN,
          errors: mine.reduce((sum, r) => sum + r.errors, 0),
          firstError: mine.find((r) => r.firstError)?.firstError,
          statements: statements.get(`${scenario} ${side}`),
          serverCpuMs: medianOf((r) => r.serverCpuMs),
          loadCpuMs: medianOf((r) => r.loadCpuMs),
          postgresCpuMs: medianOf((r) => r.postgresCpuMs),
        };
      });
      const ratioOf = (a: Side, b: Side) => {
        const x = bySide.find((s) => s.side === a);
        const y = bySide.find((s) => s.side === b);
        const perRound = Array.from({ length: OPTIONS.rounds }, (_, i) => {
          const mine = rounds.find((r) => r.scenario === scenario && r.round === i + 1 && r.side === a);
          const theirs = rounds.find((r) => r.scenario === scenario && r.round === i + 1 && r.side === b);
          return mine && theirs ? mine.tps / theirs.tps : Number.NaN;
        });
        return { of: `${a}/${b}`, ratio: x && y ? x.tps / y.tps : Number.NaN, perRound };
      };
      const ours = bySide.find((s) => s.side === 'api');
      return {
        scenario,
        sides: bySide,
        ratios: against ? [ratioOf('api', 'hand'), ratioOf('other', 'hand'), ratioOf('api', 'other')] : [ratioOf('api', 'hand')],
        p99OverP50: ours ? ours.p99 / ours.p50 : Number.NaN,
      };
    });

    const header = [
      `Keyed writes through this API against the same transactions by hand over pg`,
      `${new Date().toISOString().slice(0, 10)}; ${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}; ` +
        `PostgreSQL ${versionRows[0]?.v ?? '?'} (${database.source}); Node ${version}`,
      `${OPTIONS.rounds} interleaved rounds of ${OPTIONS.durationSeconds} s per scenario, ${OPTIONS.connections} callers, pool ${OPTIONS.poolMax} on each side; ` +
        `load average during the rounds ${fmt(Math.min(...loadAverages), 1)}-${fmt(Math.max(...loadAverages), 1)}`,
    ];
    const table = [
      '| scenario | side | tx/s | p50 | p99 | statements / tx | API CPU / tx | load process CPU / tx | PostgreSQL CPU / tx | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...summaries.flatMap((s) =>
        s.sides.map(
          (side) =>
            `| ${s.scenario} | ${side.name} | ${fmt(side.tps)} | ${fmt(side.p50, 1)} ms | ${fmt(side.p99, 1)} ms | ${fmt(side.statements, 1)} | ` +
            `${side.side === 'hand' ? '' : `${fmt(side.serverCpuMs, 2)} ms`} | ${fmt(side.loadCpuMs, 2)} ms | ${fmt(side.postgresCpuMs, 2)} ms | ${side.errors} |`,
        ),
      ),
    ];
    console.log(['', ...header, '', ...table, ''].join('\n'));
    for (const s of summaries) {
      const ratios = s.ratios.map((r) => `${r.of} ${fmt(r.ratio, 2)} (per round ${r.perRound.map((x) => fmt(x, 2)).join(', ')})`).join('; ');
      console.log(`${s.scenario}: tx/s ratio ${ratios}; p99 / p50 of this API ${fmt(s.p99OverP50, 2)}`);
      for (const side of s.sides) if (side.errors > 0) console.log(`WARNING: ${s.scenario}, ${side.name}: ${side.errors} failed, e.g. ${side.firstError}`);
    }
    for (const [side, server] of servers) if (server.errorLines.length > 0) console.log(`WARNING: ${names[side]} logged errors, e.g. ${server.errorLines[0]}`);
    if (OPTIONS.listStatements) {
      for (const [which, texts] of listings) {
        const [scenario, side] = which.split(' ') as [string, Side];
        console.log(`\nstatements of one ${scenario}, ${names[side]}:`);
        for (const text of texts) console.log(`  ${text.replace(/\s+/g, ' ').trim().slice(0, 160)}`);
      }
    }

    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify({ generatedAt: new Date().toISOString(), heads, node: version, options: OPTIONS, durationSeconds: (Date.now() - started) / 1000, summaries, rounds, statements: Object.fromEntries(listings) }, null, 2)}\n`,
    );
    console.log(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
    for (const { scenario, file } of profiles) {
      console.log(`\nCPU profile of this API during the ${scenario} rounds (${path.relative(process.cwd(), file)}):\n${summariseProfile(file)}`);
    }
  } catch (error) {
    failed = true;
    if (!interrupted) console.error('bench:writes failed:', error);
  } finally {
    progress('tearing down');
    await cleanup();
  }
  process.exit(failed ? 1 : 0);
}

await main();
