/**
 * `npm run bench:peer`: this API against PostGraphile v5 on the same
 * database, side by side, in interleaved rounds (see bench/README.md).
 *
 *   1. Installs the peer (bench/peer: PostGraphile and autocannon, from its
 *      own lockfile) with Node 24 from the npm package `node`, if not yet
 *      installed; builds this API (`npm run build`, unless --no-build).
 *   2. Starts the benchmark's database (embedded, or a scratch database on
 *      DATABASE_URL's server), migrates it and seeds `--scale` (default 0.1:
 *      10,000 products, 8,700 visible, about 30,000 reviews).
 *   3. Starts the production build (`node dist/src/main.js`, NODE_ENV
 *      production, info logs to a pipe this script reads) and the peer
 *      (Node 24), each behind its own counting proxy
 *      (bench/lib/pg-counter.ts): checks that both answer the catalogue
 *      query with the same products, sellers, categories, review totals and
 *      first reviews, and counts the statements of 20 sequential requests on
 *      the wire to PostgreSQL (not by either server's own account).
 *   4. Starts both again connected to PostgreSQL directly (the proxy would
 *      add CPU of its own in proportion to the statements); warms both up;
 *      then runs `--rounds` rounds of `--duration` seconds each of autocannon
 *      (`--connections`, default 32) against one server after the other, the
 *      order alternating each round; prints req/s, p50, p99, statements per
 *      request and the ratio, and writes bench/results/peer-latest.json.
 *
 * Both servers run on the same Node 24 (the production image's major
 * version) unless --current-node runs this API on the Node running this
 * script.
 *
 * Options: --scale N (0.1), --rounds N (3), --duration S (10),
 * --connections N (32), --warmup S (5), --no-build, --current-node,
 * --profile (CPU profile of this API over the whole run, summarised at the end),
 * --cached (this API with its shared response cache on; off by default).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { startBenchDatabase } from './lib/database.js';
import { startStatementCounter, type StatementCounter } from './lib/pg-counter.js';
import { freePort } from './lib/production-server.js';
import { buildApi, cpuSeconds, median, node24, nodeVersion, waitFor } from './lib/processes.js';
import { summariseProfile } from './lib/profile.js';
import { scaleFromArgs, seedCatalog, sizesForScale } from './lib/seed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PEER_DIR = path.join(ROOT, 'bench', 'peer');
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'peer-latest.json');

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

const OPTIONS = {
  scale: scaleFromArgs(process.argv.slice(2)) ?? 0.1,
  rounds: Math.round(option('rounds', 3, 1)),
  durationSeconds: Math.round(option('duration', 10, 1)),
  connections: Math.round(option('connections', 32, 1)),
  warmupSeconds: Math.round(option('warmup', 5, 0)),
  build: !process.argv.includes('--no-build'),
  /** Run this API on the Node that runs this script instead of Node 24 (the production image's). */
  currentNode: process.argv.includes('--current-node'),
  /** Serve this API with its shared response cache on (RESPONSE_CACHE=memory); off by default: the uncached path. */
  cached: process.argv.includes('--cached'),
  /** Write a CPU profile of this API (node --cpu-prof) to bench/results/profiles/ and summarise it. */
  profile: process.argv.includes('--profile'),
};
const PROFILE_DIR = path.join(ROOT, 'bench', 'results', 'profiles');

// ---------------------------------------------------------------- queries

/** The catalogue query of issue 10: a page of 50 by price, seller, category, 3 reviews with authors, totals, pageInfo. */
const OURS = `query Catalog($first: Int!) {
  products(first: $first, orderBy: { field: PRICE, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id title price { amount currency }
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`;

/**
 * PostGraphile's equivalent: the same visibility (ACTIVE, not deleted) as a
 * condition, the same orderings with the id as tie-breaker (price ascending;
 * reviews newest first), the same fields.
 */
const PEER = `query Catalog($first: Int!) {
  allProducts(first: $first, orderBy: [PRICE_AMOUNT_ASC, ROW_ID_ASC], condition: { status: "ACTIVE", deletedAt: null }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id title priceAmount currency
      userBySellerId { displayName }
      categoryByCategoryId { name }
      reviewsByProductId(first: 3, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { deletedAt: null }) {
        totalCount nodes { rating body userByAuthorId { displayName } }
      }
    } }
  }
}`;

interface Comparable {
  totalCount: number;
  hasNextPage: boolean;
  products: string[];
}

/** What both answers must agree on, one line per product. */
function ourComparable(json: unknown): Comparable {
  type Node = {
    title: string;
    price: { amount: number };
    seller: { displayName: string };
    category: { name: string };
    reviews: { totalCount: number; nodes: { rating: number; author: { displayName: string } }[] };
  };
  const products = (json as { data: { products: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: Node }[] } } }).data
    .products;
  return {
    totalCount: products.totalCount,
    hasNextPage: products.pageInfo.hasNextPage,
    products: products.edges.map(({ node }) =>
      [
        node.title,
        node.price.amount,
        node.seller.displayName,
        node.category.name,
        node.reviews.totalCount,
        node.reviews.nodes.map((r) => `${r.rating}/${r.author.displayName}`).join(','),
      ].join(' | '),
    ),
  };
}

function peerComparable(json: unknown): Comparable {
  type Node = {
    title: string;
    priceAmount: number;
    userBySellerId: { displayName: string };
    categoryByCategoryId: { name: string };
    reviewsByProductId: { totalCount: number; nodes: { rating: number; userByAuthorId: { displayName: string } }[] };
  };
  const products = (json as { data: { allProducts: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: Node }[] } } })
    .data.allProducts;
  return {
    totalCount: products.totalCount,
    hasNextPage: products.pageInfo.hasNextPage,
    products: products.edges.map(({ node }) =>
      [
        node.title,
        node.priceAmount,
        node.userBySellerId.displayName,
        node.categoryByCategoryId.name,
        node.reviewsByProductId.totalCount,
        node.reviewsByProductId.nodes.map((r) => `${r.rating}/${r.userByAuthorId.displayName}`).join(','),
      ].join(' | '),
    ),
  };
}

// ---------------------------------------------------------------- processes

function progress(message: string): void {
  console.error(`[bench:peer ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Installs bench/peer from its lockfile with Node 24, unless already installed from this very lockfile. */
function installPeer(): void {
  const marker = path.join(PEER_DIR, 'node_modules', '.installed-lock-sha256');
  const lockHash = createHash('sha256').update(readFileSync(path.join(PEER_DIR, 'package-lock.json'))).digest('hex');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === lockHash) return;
  progress('installing the peer (bench/peer: PostGraphile 5, autocannon) with Node 24');
  // Under `npx -p node@24`, npm's own `#!/usr/bin/env node` resolves to Node 24.
  const result = spawnSync('npx', ['-y', '-p', 'node@24', '--', 'npm', 'ci', '--no-audit', '--no-fund'], { cwd: PEER_DIR, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('installing bench/peer failed');
  writeFileSync(marker, lockHash);
}

interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  /** Set on the instance behind a counting proxy. */
  counter: StatementCounter | undefined;
  /** Log lines the server wrote at error level or above. */
  errorLines: string[];
  logLines: number;
}

function watchOutput(server: Server, child: ChildProcess): void {
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    server.logLines += 1;
    // pino levels: 50 error, 60 fatal.
    if (/"level":(50|60)/.test(line) && server.errorLines.length < 20) server.errorLines.push(line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.includes('GRAPHILE_ENV') && server.errorLines.length < 20) server.errorLines.push(line);
  });
}

async function startOurs(node: string, databaseUrl: string, counted: boolean): Promise<Server> {
  const counter = counted ? await startStatementCounter(databaseUrl) : undefined;
  const port = await freePort();
  const profile = OPTIONS.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const child = spawn(node, [...profile, 'dist/src/main.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: counter?.url ?? databaseUrl,
      MIGRATE_ON_START: 'false',
      // The uncached path is what is compared, unless --cached asks for the shared response cache.
      RESPONSE_CACHE: OPTIONS.cached ? 'memory' : 'off',
      JWT_SIGNING_KEYS: await generateSigningJwks(),
      // Many measured requests from one address: the per-principal cost budget must not refuse them.
      RATE_LIMIT_BUDGET: '1000000000',
      // The phase reads of src/transitions/ (one statement per refresh) would be counted as the requests' statements.
      TRANSITION_REFRESH_MS: '60000',
    },
  });
  const server: Server = { name: 'this API', url: `http://127.0.0.1:${port}/graphql`, child, counter, errorLines: [], logLines: 0 };
  watchOutput(server, child);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 'this API', child);
  return server;
}

async function startPeer(node: string, databaseUrl: string, counted: boolean): Promise<Server> {
  const counter = counted ? await startStatementCounter(databaseUrl) : undefined;
  const port = await freePort();
  const child = spawn(node, [path.join(PEER_DIR, 'server.mjs')], {
    cwd: PEER_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', PORT: String(port), DATABASE_URL: counter?.url ?? databaseUrl },
  });
  const server: Server = { name: 'PostGraphile 5', url: `http://127.0.0.1:${port}/graphql`, child, counter, errorLines: [], logLines: 0 };
  watchOutput(server, child);
  await waitFor(
    async () => (await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })).ok,
    'PostGraphile',
    child,
  );
  return server;
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode === null) {
    const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await server.counter?.close();
}

// ---------------------------------------------------------------- measuring

async function post(url: string, body: string): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body });
  const json: unknown = await response.json();
  if (!response.ok || (json as { errors?: unknown }).errors) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Statements per request, counted on the wire over sequential requests (nothing else runs meanwhile). */
async function statementsPerRequest(server: Server, body: string, requests = 20): Promise<number[]> {
  const { counter } = server;
  if (!counter) throw new Error(`${server.name} runs without a counting proxy`);
  const counts: number[] = [];
  for (let i = 0; i < requests; i += 1) {
    const before = counter.statements;
    await post(server.url, body);
    // The statements of a request are on the wire before its response leaves the server.
    counts.push(counter.statements - before);
  }
  return counts;
}

interface Round {
  round: number;
  server: string;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** CPU time (user + system, all threads) the server process spent per request in this round; undefined where /proc is unreadable. */
  cpuMsPerRequest?: number;
}

function load(node: string, url: string, body: string, durationSeconds: number): Promise<Omit<Round, 'round' | 'server'>> {
  return new Promise((resolve, reject) => {
    const args = JSON.stringify({ url, body, connections: OPTIONS.connections, durationSeconds });
    const child = spawn(node, [path.join(PEER_DIR, 'load.mjs'), args], { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with code ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Omit<Round, 'round' | 'server'>);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

const fmt = (value: number, digits = 0) => value.toFixed(digits);

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  const cleanups: (() => Promise<void>)[] = [];
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
    const node = node24(PEER_DIR);
    const node24Version = nodeVersion(node);
    installPeer();
    if (OPTIONS.build) buildApi(progress);

    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database = await startBenchDatabase();
    cleanups.push(() => database.stop());
    const db = createDb({ url: database.url, poolMax: 2, statementTimeoutMs: 600_000 }, () => undefined);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const sizes = sizesForScale(OPTIONS.scale);
    progress(`seeding scale ${OPTIONS.scale}: ${sizes.products} products`);
    const seed = await seedCatalog(db, sizes);
    progress(`seeded in ${seed.seconds.toFixed(1)} s: ${seed.visibleProducts} visible products, ${seed.reviews} reviews`);
    const { rows } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);
    await db.destroy();
    cleanups.pop();

    const ourNode = OPTIONS.currentNode ? process.execPath : node;
    const ourBody = JSON.stringify({ query: OURS, variables: { first: 50 }, operationName: 'Catalog' });
    const peerBody = JSON.stringify({ query: PEER, variables: { first: 50 }, operationName: 'Catalog' });

    // First, each server behind a counting proxy: same answers, statements per request.
    progress('starting this API (dist/) and PostGraphile 5 behind counting proxies');
    const countedOurs = await startOurs(ourNode, database.url, true);
    cleanups.push(() => stopServer(countedOurs));
    const countedPeer = await startPeer(node, database.url, true);
    cleanups.push(() => stopServer(countedPeer));

    // Same answer from both, or the comparison means nothing.
    const a = ourComparable(await post(countedOurs.url, ourBody));
    const b = peerComparable(await post(countedPeer.url, peerBody));
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      const at = a.products.findIndex((line, i) => line !== b.products[i]);
      throw new Error(
        `the two answers differ: totalCount ${a.totalCount} / ${b.totalCount}, hasNextPage ${a.hasNextPage} / ${b.hasNextPage}` +
          (at >= 0 ? `, product ${at}: "${a.products[at]}" vs "${b.products[at]}"` : ''),
      );
    }
    progress(`both answer the same 50 products (of ${a.totalCount} visible)`);

    const statementCounts = new Map<string, number[]>([
      [countedOurs.name, await statementsPerRequest(countedOurs, ourBody)],
      [countedPeer.name, await statementsPerRequest(countedPeer, peerBody)],
    ]);
    // Stopped before the load: the proxy would add its own CPU to the run, in proportion to the statements.
    await stopServer(countedPeer);
    await stopServer(countedOurs);
    cleanups.length -= 2;

    progress('starting both again, connected to PostgreSQL directly, for the load rounds');
    const ours = await startOurs(ourNode, database.url, false);
    cleanups.push(() => stopServer(ours));
    const peer = await startPeer(node, database.url, false);
    cleanups.push(() => stopServer(peer));
    const bodies = new Map<Server, string>([
      [ours, ourBody],
      [peer, peerBody],
    ]);
    await post(ours.url, ourBody);
    await post(peer.url, peerBody);

    if (OPTIONS.warmupSeconds > 0) {
      progress(`warming up: ${OPTIONS.warmupSeconds} s each`);
      for (const server of [ours, peer]) await load(node, server.url, bodies.get(server)!, OPTIONS.warmupSeconds);
    }

    const rounds: Round[] = [];
    for (let round = 1; round <= OPTIONS.rounds; round += 1) {
      const order = round % 2 === 1 ? [ours, peer] : [peer, ours];
      for (const server of order) {
        progress(`round ${round}/${OPTIONS.rounds}: ${server.name}, ${OPTIONS.durationSeconds} s, ${OPTIONS.connections} connections`);
        const cpuBefore = cpuSeconds(server.child.pid);
        const result = await load(node, server.url, bodies.get(server)!, OPTIONS.durationSeconds);
        const cpuAfter = cpuSeconds(server.child.pid);
        const cpuMsPerRequest =
          cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / result.requests : undefined;
        rounds.push({ round, server: server.name, ...result, ...(cpuMsPerRequest !== undefined ? { cpuMsPerRequest } : {}) });
      }
    }

    const summary = [ours, peer].map((server) => {
      const mine = rounds.filter((r) => r.server === server.name);
      const counts = statementCounts.get(server.name)!;
      return {
        server: server.name,
        rps: mine.reduce((sum, r) => sum + r.rps, 0) / mine.length,
        p50: median(mine.map((r) => r.p50)),
        p99: median(mine.map((r) => r.p99)),
        errors: mine.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
        cpuMsPerRequest: mine.every((r) => r.cpuMsPerRequest !== undefined) ? median(mine.map((r) => r.cpuMsPerRequest ?? 0)) : undefined,
        statements: `${Math.min(...counts)}${Math.min(...counts) === Math.max(...counts) ? '' : `-${Math.max(...counts)}`}`,
        serverErrorLines: server.errorLines,
      };
    });
    const [oursSummary, peerSummary] = summary as [(typeof summary)[number], (typeof summary)[number]];
    const perRound = Array.from({ length: OPTIONS.rounds }, (_, i) => {
      const mine = rounds.find((r) => r.round === i + 1 && r.server === ours.name)!;
      const theirs = rounds.find((r) => r.round === i + 1 && r.server === peer.name)!;
      return mine.rps / theirs.rps;
    });
    const ratio = oursSummary.rps / peerSummary.rps;

    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
    const cpus = os.cpus();
    const header = [
      `Catalog first: 50 by price (seller, category, reviews(first: 3) with authors, totalCount, pageInfo); ` +
        `this API ${OPTIONS.cached ? 'with its shared response cache (--cached)' : 'uncached (RESPONSE_CACHE=off)'}`,
      `${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty ? ' (with uncommitted changes in src/)' : ''}; ` +
        `${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}; PostgreSQL ${rows[0]?.v ?? '?'} (${database.source}); ` +
        `this API on Node ${OPTIONS.currentNode ? process.version.slice(1) : node24Version}, the peer on Node ${node24Version}`,
      `seed scale ${OPTIONS.scale}: ${seed.products} products (${seed.visibleProducts} visible), ${seed.reviews} reviews; ` +
        `${OPTIONS.rounds} interleaved rounds of ${OPTIONS.durationSeconds} s, autocannon ${OPTIONS.connections} connections`,
    ];
    const table = [
      '| | req/s | p50 | p99 | SQL statements / request | server CPU / request | errors |',
      '|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.server} | ${fmt(s.rps)} | ${fmt(s.p50)} ms | ${fmt(s.p99)} ms | ${s.statements} | ` +
          `${s.cpuMsPerRequest === undefined ? 'n/a' : `${fmt(s.cpuMsPerRequest, 2)} ms`} | ${s.errors} |`,
      ),
    ];
    console.log(['', ...header, '', ...table, ''].join('\n'));
    console.log(`ratio (this API / PostGraphile req/s): ${fmt(ratio, 2)}   per round: ${perRound.map((r) => fmt(r, 2)).join(', ')}`);
    console.log(`p99 / p50, this API: ${fmt(oursSummary.p99 / oursSummary.p50, 2)}`);
    for (const s of summary) {
      if (s.serverErrorLines.length > 0) console.log(`WARNING: ${s.server} logged errors, e.g. ${s.serverErrorLines[0]}`);
      if (s.errors > 0) console.log(`WARNING: ${s.server} had ${s.errors} failed requests (errors, timeouts, non-2xx)`);
    }

    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify({ generatedAt: new Date().toISOString(), commit, dirty, options: OPTIONS, seed, durationSeconds: (Date.now() - started) / 1000, summary, ratio, perRound, rounds }, null, 2)}\n`,
    );
    console.log(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } catch (error) {
    failed = true;
    if (!interrupted) console.error('bench:peer failed:', error);
  } finally {
    progress('tearing down');
    await cleanup();
  }
  if (OPTIONS.profile && !failed) {
    const newest = (await readdir(PROFILE_DIR).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.cpuprofile'))
      .map((name) => path.join(PROFILE_DIR, name))
      .sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs)[0];
    if (newest) console.log(`\nCPU profile of this API (${path.relative(process.cwd(), newest)}):\n${summariseProfile(newest)}`);
  }
  process.exit(failed ? 1 : 0);
}

// Keep the lockfile honest: a package.json change without a new lockfile would install something else.
if (existsSync(path.join(PEER_DIR, 'package.json')) && !readFileSync(path.join(PEER_DIR, 'package-lock.json'), 'utf8').includes('"postgraphile"')) {
  throw new Error('bench/peer/package-lock.json does not pin postgraphile');
}
await main();
