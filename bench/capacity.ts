/**
 * `npm run bench:capacity`: the inputs of the capacity model in
 * docs/operations/scaling.md, measured on the production build. For each
 * request kind (catalog page, product detail, keyed checkout; the two reads
 * with the shared response cache off and on) one server runs alone over the
 * bench database, under closed-loop load, and the run reads:
 *   - CPU time per request of the API process and of PostgreSQL (the
 *     embedded cluster's processes: postmaster, backends, background
 *     workers), from /proc, less what each uses idle (measured for 3 s just
 *     before): the cost of one request on each side, much less sensitive to
 *     what else the machine is doing than throughput, and what "requests per
 *     core" comes from;
 *   - statements and SQL time per request from the server's own log line
 *     (`sqlCount`, `sqlMs`: the time the request spent in its statements,
 *     pool wait included; statements compiled once per shape, such as the
 *     catalog page's, are counted but not timed there), once unloaded
 *     (sequential) and once under load;
 *   - throughput and latency of the loaded round (they depend on the machine
 *     and its neighbours; the CPU figures much less).
 * With BENCH_CAPACITY_REDIS_URL (a Redis of its own: the run reads the
 * server-wide counters), the cached catalog runs once more with the cache
 * and the budgets in that Redis, and the run reports Redis commands and
 * Redis CPU time per request.
 * Writes bench/results/capacity.json. Knobs: BENCH_CAPACITY_SECONDS (10 per
 * round), BENCH_CAPACITY_CONNECTIONS (8), BENCH_CAPACITY_SEQUENTIAL (100),
 * `--scale N` (bench catalogue size, default 0.1: 10,000 products).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { startBenchDatabase } from './lib/database.js';
import { processCpuMs } from './lib/process-cpu.js';
import { ensureProductionBuild, freePort, PRODUCTION_ENTRY } from './lib/production-server.js';
import { BENCH_ACCOUNT, scaleFromArgs, seedCatalog, sizesForScale } from './lib/seed.js';
import { percentile } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env['BENCH_CAPACITY_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CAPACITY_CONNECTIONS'] ?? 8);
const SEQUENTIAL = Number(process.env['BENCH_CAPACITY_SEQUENTIAL'] ?? 100);
const IDLE_MS = 3000;

const CATALOG = `query Catalog {
  products(first: 20, orderBy: { field: PRICE, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id title price { amount currency } stock seller { displayName } category { name } }
  }
}`;
const DETAIL = `query Detail($id: ID!) {
  product(id: $id) {
    id title description price { amount currency } stock version
    seller { displayName } category { name }
    reviews(first: 5) { totalCount nodes { rating body author { displayName } } }
  }
}`;
const CHECKOUT = `mutation Buy($id: ID!) { checkout(input: { items: [{ productId: $id, quantity: 1 }] }) { orders { id status } userErrors { code } } }`;

interface Server {
  url: string;
  pid: number;
  /** sqlCount / sqlMs of each completed request, by request id. */
  lines: Map<string, { sqlCount: number; sqlMs: number; durationMs: number }>;
  stop(): Promise<void>;
}

/** CPU seconds so far of a process and its children (the API: none; the postmaster: its backends); 0 once it is gone. */
function cpuSeconds(pid: number): number {
  return (processCpuMs(pid) ?? 0) / 1000;
}

/** The postmaster of the embedded cluster listening on `port`, from its postmaster.pid. */
function postmasterOf(detail: string): number {
  const dir = /data in (\S+)/.exec(detail)?.[1];
  if (!dir) throw new Error('bench:capacity needs the embedded PostgreSQL (unset DATABASE_URL): it reads its processes\' CPU time');
  const data = readdirSync(dir).find((name) => name.startsWith('data-'));
  return Number(readFileSync(path.join(dir, data ?? '', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

async function startServer(databaseUrl: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [PRODUCTION_ENTRY], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: databaseUrl, MIGRATE_ON_START: 'false', LOG_LEVEL: 'info', ...env },
  });
  const lines = new Map<string, { sqlCount: number; sqlMs: number; durationMs: number }>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    if (!text.includes('"request completed"')) return;
    const line = JSON.parse(text) as { requestId: string; sqlCount: number; sqlMs: number; durationMs: number };
    lines.set(line.requestId, { sqlCount: line.sqlCount, sqlMs: line.sqlMs, durationMs: line.durationMs });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (waited > 30_000) throw new Error('the server did not get ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    pid: child.pid as number,
    lines,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

type Request = () => { body: string; headers: Record<string, string> };

async function send(server: Server, request: Request): Promise<{ id: string; ms: number }> {
  const id = randomUUID();
  const { body, headers } = request();
  const started = performance.now();
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-request-id': id, ...headers },
    body,
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"errors"') || text.includes('"code"')) throw new Error(`answered ${response.status}: ${text.slice(0, 300)}`);
  return { id, ms: performance.now() - started };
}

interface Figures {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  apiCpuMs: number;
  pgCpuMs: number;
  sqlCount: number;
  sqlMsUnloaded: number;
  sqlMsLoaded: number;
  redisCommands?: number;
  redisCpuMs?: number;
}

/** Commands Redis has processed and CPU seconds it has used, server-wide. */
async function redisCounters(redis: Redis): Promise<[number, number]> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return [field('total_commands_processed'), field('used_cpu_user') + field('used_cpu_sys')];
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Sequential requests (SQL time without queueing), then the loaded round (CPU, throughput). */
async function measure(server: Server, postmaster: number, request: Request, redis?: Redis): Promise<Figures> {
  const sqlOf = async (ids: string[]) => {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the log line follows the response
    return ids.map((id) => server.lines.get(id)).filter((line) => line !== undefined);
  };
  for (let i = 0; i < 20; i += 1) await send(server, request);
  const sequential: string[] = [];
  for (let i = 0; i < SEQUENTIAL; i += 1) sequential.push((await send(server, request)).id);
  const unloaded = await sqlOf(sequential);

  // What the server and PostgreSQL use with no request at all (timers, logging, background workers),
  // per second: taken off the loaded round's CPU, so a slow round does not inflate the per-request figure.
  const idleBefore = [cpuSeconds(server.pid), cpuSeconds(postmaster)];
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleRate = [cpuSeconds(server.pid) - (idleBefore[0] as number), cpuSeconds(postmaster) - (idleBefore[1] as number)].map((cpu) => cpu / (IDLE_MS / 1000));

  const latencies: number[] = [];
  const ids: string[] = [];
  const redisBefore = redis ? await redisCounters(redis) : undefined;
  const cpuBefore = [cpuSeconds(server.pid), cpuSeconds(postmaster)];
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const { id, ms } = await send(server, request);
        latencies.push(ms);
        ids.push(id);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = [cpuSeconds(server.pid), cpuSeconds(postmaster)];
  const redisAfter = redis ? await redisCounters(redis) : undefined;
  const loaded = await sqlOf(ids);
  const redisFigures =
    redisBefore && redisAfter
      ? // The INFO of the first reading counts; the second's does not yet.
        { redisCommands: (redisAfter[0] - redisBefore[0] - 1) / latencies.length, redisCpuMs: ((redisAfter[1] - redisBefore[1]) * 1000) / latencies.length }
      : {};
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    apiCpuMs: (((cpuAfter[0] as number) - (cpuBefore[0] as number) - (idleRate[0] as number) * elapsed) * 1000) / latencies.length,
    pgCpuMs: (((cpuAfter[1] as number) - (cpuBefore[1] as number) - (idleRate[1] as number) * elapsed) * 1000) / latencies.length,
    sqlCount: median(unloaded.map((line) => line.sqlCount)),
    sqlMsUnloaded: median(unloaded.map((line) => line.sqlMs)),
    sqlMsLoaded: median(loaded.map((line) => line.sqlMs)),
    ...redisFigures,
  };
}

async function main(): Promise<void> {
  const scale = scaleFromArgs(process.argv.slice(2)) ?? 0.1;
  await ensureProductionBuild();
  const database = await startBenchDatabase();
  const postmaster = postmasterOf(database.detail);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }) });
  const servers: Server[] = [];
  try {
    await migrateToLatest(db);
    const seeded = await seedCatalog(db, sizesForScale(scale));
    // Checkouts spread over 1,000 restocked products (no hot row: the single-row worst case is bench scenario e).
    const products = (await db.selectFrom('products').select('id').where('status', '=', 'ACTIVE').where('deleted_at', 'is', null).orderBy('id').limit(1000).execute()).map((row) => row.id);
    await db.updateTable('products').set({ stock: 10_000_000 }).where('id', 'in', products).execute();
    await sql`VACUUM (ANALYZE)`.execute(db);
    const ids = products.map((id) => toGlobalId('Product', id));
    const keys = await generateSigningJwks();
    let n = 0;
    const next = () => (n += 1);

    const catalog: Request = () => ({ body: JSON.stringify({ query: CATALOG }), headers: {} });
    const detailAny: Request = () => ({ body: JSON.stringify({ query: DETAIL, variables: { id: ids[next() % ids.length] } }), headers: {} });
    const detailHot: Request = () => ({ body: JSON.stringify({ query: DETAIL, variables: { id: ids[next() % 100] } }), headers: {} });

    const results: Record<string, Figures> = {};
    const run = async (name: string, env: Record<string, string>, request: (server: Server) => Promise<Request> | Request, redis?: Redis) => {
      const server = await startServer(database.url, { JWT_SIGNING_KEYS: keys, ...env });
      servers.push(server);
      results[name] = await measure(server, postmaster, await request(server), redis);
      await server.stop();
      const f = results[name];
      console.log(
        `${name.padEnd(26)} ${f.perSecond.toFixed(0).padStart(6)} req/s  p50 ${f.p50Ms.toFixed(1)} ms  p99 ${f.p99Ms.toFixed(1)} ms  ` +
          `API CPU ${f.apiCpuMs.toFixed(2)} ms/req  PostgreSQL CPU ${f.pgCpuMs.toFixed(2)} ms/req  ` +
          `statements ${f.sqlCount}  SQL time ${f.sqlMsUnloaded.toFixed(2)} ms unloaded, ${f.sqlMsLoaded.toFixed(2)} ms loaded` +
          (f.redisCommands === undefined ? '' : `  Redis ${f.redisCommands.toFixed(2)} commands/req, ${f.redisCpuMs?.toFixed(3)} ms CPU/req`),
      );
    };
    console.log(`bench:capacity: ${seeded.products} products (scale ${scale}), ${database.detail}; ${CONNECTIONS} connections x ${SECONDS} s per kind; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${cpus().length} CPUs, Node ${process.version}`);
    await run('catalog, uncached', { RESPONSE_CACHE: 'off' }, () => catalog);
    await run('catalog, cached', { RESPONSE_CACHE: 'memory' }, () => catalog);
    const redisUrl = process.env['BENCH_CAPACITY_REDIS_URL'];
    if (redisUrl) {
      const redis = new Redis(redisUrl, { lazyConnect: true });
      await redis.connect();
      try {
        await redis.flushdb();
        await run('catalog, cached in Redis', { RESPONSE_CACHE: 'redis', REDIS_URL: redisUrl }, () => catalog, redis);
      } finally {
        redis.disconnect();
      }
    }
    await run('product detail, uncached', { RESPONSE_CACHE: 'off' }, () => detailAny);
    await run('product detail, cached', { RESPONSE_CACHE: 'memory' }, () => detailHot);
    await run('checkout (keyed)', { RESPONSE_CACHE: 'off' }, async (server) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation ($i: LogInInput!) { logIn(input: $i) { accessToken } }', variables: { i: { ...BENCH_ACCOUNT, refreshTokenDelivery: 'PAYLOAD' } } }),
      });
      const token = ((await response.json()) as { data: { logIn: { accessToken: string } } }).data.logIn.accessToken;
      return () => ({
        body: JSON.stringify({ query: CHECKOUT, variables: { id: ids[next() % ids.length] } }),
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
      });
    });
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench/results/capacity.json'), `${JSON.stringify({ at: new Date().toISOString(), scale, connections: CONNECTIONS, seconds: SECONDS, loadavg: loadavg(), results }, null, 2)}\n`);
  } finally {
    for (const server of servers) await server.stop();
    await db.destroy();
    await database.stop();
  }
}

await main();
