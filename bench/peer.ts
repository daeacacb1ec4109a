/**
 * `npm run bench:peer`: this API against PostGraphile v5 on the same
 * database, side by side, in interleaved rounds, on every request shape of
 * bench/lib/peer-shapes.ts (see docs/operations/performance.md).
 *
 *   1. Installs the peer (bench/peer: PostGraphile and autocannon, from its
 *      own lockfile) with Node 24 from the npm package `node`, if not yet
 *      installed; builds this API (`npm run build`, unless --no-build).
 *   2. Starts the benchmark's database (embedded, or a scratch database on
 *      DATABASE_URL's server), migrates it, seeds `--scale` (default 0.1:
 *      10,000 products, 8,700 visible, about 30,000 reviews) and what the
 *      shapes need beyond the catalogue (bench/lib/peer-seed.ts: orders,
 *      a seller's sales, a searchable word in every title, a product with
 *      many reviews).
 *   3. Starts the production build (`node dist/src/main.js`, NODE_ENV
 *      production) and the peer (Node 24), each behind its own counting
 *      proxy (bench/lib/pg-counter.ts); for each shape, checks that both
 *      answer the same, then counts the statements of sequential requests on
 *      the wire to PostgreSQL at the shape's page size and at a smaller one.
 *   4. Starts them again connected to PostgreSQL directly (the proxy would
 *      add CPU of its own in proportion to the statements); for each shape,
 *      warms each server up, then runs `--rounds` rounds of `--duration`
 *      seconds of autocannon (`--connections`, default 32) against one server
 *      after the other, the order rotating each round; prints req/s, p50,
 *      p99, server CPU and statements per request and the ratio per shape,
 *      and writes bench/results/peer-latest.json.
 *
 * This API runs on Node 24 (the production image's major version) like the
 * peer; --current-node runs it on the Node running this script instead, and
 * --both-nodes runs both builds of it in the same rounds (Node 24 and this
 * script's Node), each compared with the same peer rounds.
 *
 * Options: --scale N (0.1), --shapes a,b (all), --rounds N (3),
 * --duration S (8), --connections N (32), --warmup S (3), --no-build,
 * --current-node, --both-nodes, --profile (CPU profile of this API over the
 * whole run, summarised at the end), --cached (this API with its shared
 * response cache on; off by default).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { startBenchDatabase } from './lib/database.js';
import { BENCH_SELLER, seedPeerShapes, type PeerFixtures } from './lib/peer-seed.js';
import {
  cpuSeconds,
  load,
  PEER_DIR,
  post,
  ROOT,
  startOurs,
  startPeer,
  statementsPerRequest,
  stopServer,
  type LoadResult,
  type Server,
} from './lib/peer-servers.js';
import { shapesFromArgs, type Shape, type ShapeAuth } from './lib/peer-shapes.js';
import { summariseProfile } from './lib/profile.js';
import { BENCH_ACCOUNT, scaleFromArgs, seedCatalog, sizesForScale } from './lib/seed.js';

const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'peer-latest.json');
const PROFILE_DIR = path.join(ROOT, 'bench', 'results', 'profiles');

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
  shapes: shapesFromArgs(process.argv.slice(2)),
  rounds: Math.round(option('rounds', 3, 1)),
  durationSeconds: Math.round(option('duration', 8, 1)),
  connections: Math.round(option('connections', 32, 1)),
  warmupSeconds: Math.round(option('warmup', 3, 0)),
  build: !process.argv.includes('--no-build'),
  /** Run this API on the Node that runs this script instead of Node 24 (the production image's). */
  currentNode: process.argv.includes('--current-node'),
  /** Run this API on Node 24 and on the Node that runs this script, in the same rounds. */
  bothNodes: process.argv.includes('--both-nodes'),
  /** Serve this API with its shared response cache on (RESPONSE_CACHE=memory); off by default: the uncached path. */
  cached: process.argv.includes('--cached'),
  /** Write a CPU profile of this API (node --cpu-prof) to bench/results/profiles/ and summarise it. */
  profile: process.argv.includes('--profile'),
};

// ---------------------------------------------------------------- setup

function progress(message: string): void {
  console.error(`[bench:peer ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Node 24 from the npm package `node` (cached by npx after the first run). */
function node24(): string {
  const found = spawnSync('npx', ['-y', '-p', 'node@24', '--', 'node', '-e', 'process.stdout.write(process.execPath)'], {
    cwd: PEER_DIR,
    encoding: 'utf8',
  });
  if (found.status !== 0 || !found.stdout) throw new Error(`could not get Node 24 through npx -p node@24: ${found.stderr}`);
  return found.stdout.trim();
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

function build(): void {
  progress('building the API (npm run build)');
  const result = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}

const LOG_IN = 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { code } } }';

/** Bearer headers for the shapes that sign in, from this API's own logIn. */
async function signIn(ours: Server): Promise<Record<ShapeAuth, Record<string, string>>> {
  const token = async (account: { email: string; password: string }) => {
    const json = await post(ours.url, JSON.stringify({ query: LOG_IN, variables: { input: account } }));
    const accessToken = (json as { data?: { logIn?: { accessToken?: string | null } } }).data?.logIn?.accessToken;
    if (!accessToken) throw new Error(`logIn of ${account.email} returned no access token: ${JSON.stringify(json)}`);
    return { authorization: `Bearer ${accessToken}` };
  };
  return { customer: await token(BENCH_ACCOUNT), seller: await token(BENCH_SELLER) };
}

// ---------------------------------------------------------------- one shape's requests

interface Requests {
  ours: { body: string; headers: Record<string, string> };
  peer: { body: string; headers: Record<string, string> };
}

function requests(shape: Shape, fixtures: PeerFixtures, size: number, auth: Record<ShapeAuth, Record<string, string>>): Requests {
  return {
    ours: { body: JSON.stringify({ query: shape.ours.query, variables: shape.ours.variables(fixtures, size) }), headers: shape.auth ? auth[shape.auth] : {} },
    peer: { body: JSON.stringify({ query: shape.peer.query, variables: shape.peer.variables(fixtures, size) }), headers: {} },
  };
}

/** Same answer from both, or the comparison means nothing. */
async function checkSameAnswers(shape: Shape, ours: Server, peer: Server, r: Requests): Promise<number> {
  const a = shape.oursComparable(await post(ours.url, r.ours.body, r.ours.headers));
  const b = shape.peerComparable(await post(peer.url, r.peer.body, r.peer.headers));
  if (a.length < 2) throw new Error(`${shape.name}: this API's answer has nothing to compare (${a.join('; ')})`);
  const at = a.findIndex((line, i) => line !== b[i]);
  if (at >= 0 || a.length !== b.length) {
    throw new Error(`${shape.name}: the two answers differ (${a.length} / ${b.length} lines)` + (at >= 0 ? `, line ${at}: "${a[at]}" vs "${b[at] ?? ''}"` : ''));
  }
  return a.length;
}

const range = (counts: number[]) => `${Math.min(...counts)}${Math.min(...counts) === Math.max(...counts) ? '' : `-${Math.max(...counts)}`}`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const fmt = (value: number, digits = 0) => value.toFixed(digits);

interface Round extends LoadResult {
  shape: string;
  round: number;
  server: string;
  /** CPU time (user + system, all threads) the server process spent per request in this round; undefined where /proc is unreadable. */
  cpuMsPerRequest?: number;
}

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
    const node = node24();
    const node24Version = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    installPeer();
    if (OPTIONS.build) build();

    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database = await startBenchDatabase();
    cleanups.push(() => database.stop());
    const db = createDb({ url: database.url, poolMax: 2, statementTimeoutMs: 600_000 }, () => undefined);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const sizes = sizesForScale(OPTIONS.scale);
    progress(`seeding scale ${OPTIONS.scale}: ${sizes.products} products`);
    const seed = await seedCatalog(db, sizes);
    const fixtures = await seedPeerShapes(db, sizes.products);
    progress(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s: ${seed.visibleProducts} visible products, ${seed.reviews} reviews, ${fixtures.orders} orders`);
    const { rows } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);
    await db.destroy();
    cleanups.pop();

    const signingKeys = await generateSigningJwks();
    const ourNodes: { name: string; node: string; version: string }[] = OPTIONS.bothNodes
      ? [
          { name: `this API (Node ${node24Version})`, node, version: node24Version },
          { name: `this API (Node ${process.versions.node})`, node: process.execPath, version: process.versions.node },
        ]
      : OPTIONS.currentNode
        ? [{ name: 'this API', node: process.execPath, version: process.versions.node }]
        : [{ name: 'this API', node, version: node24Version }];
    const oursOptions = (name: string, ourNode: string, counted: boolean) => ({
      name,
      node: ourNode,
      databaseUrl: database.url,
      counted,
      signingKeys,
      cached: OPTIONS.cached,
      profileDir: OPTIONS.profile && !counted ? PROFILE_DIR : undefined,
    });

    // First, each server behind a counting proxy: same answers, statements per request at two page sizes.
    progress('starting this API (dist/) and PostGraphile 5 behind counting proxies');
    const countedOurs = await startOurs(oursOptions('this API', ourNodes[0]!.node, true));
    cleanups.push(() => stopServer(countedOurs));
    const countedPeer = await startPeer(node, database.url, true);
    cleanups.push(() => stopServer(countedPeer));
    let auth = await signIn(countedOurs);
    const statements = new Map<string, { ours: string; peer: string; lines: number }>();
    for (const shape of OPTIONS.shapes) {
      const large = requests(shape, fixtures, shape.size, auth);
      const small = requests(shape, fixtures, shape.smallSize, auth);
      const lines = await checkSameAnswers(shape, countedOurs, countedPeer, large);
      await checkSameAnswers(shape, countedOurs, countedPeer, small);
      const count = async (server: Server, side: 'ours' | 'peer') =>
        `${range(await statementsPerRequest(server, small[side].body, small[side].headers))} / ${range(await statementsPerRequest(server, large[side].body, large[side].headers))}`;
      statements.set(shape.name, { ours: await count(countedOurs, 'ours'), peer: await count(countedPeer, 'peer'), lines });
      progress(`${shape.name}: the same ${lines} answer lines from both; statements at ${shape.smallSize} / ${shape.size}: ours ${statements.get(shape.name)!.ours}, peer ${statements.get(shape.name)!.peer}`);
    }
    // Stopped before the load: the proxy would add its own CPU to the run, in proportion to the statements.
    await stopServer(countedPeer);
    await stopServer(countedOurs);
    cleanups.length -= 2;

    progress('starting the servers again, connected to PostgreSQL directly, for the load rounds');
    const ours: Server[] = [];
    for (const { name, node: ourNode } of ourNodes) {
      const server = await startOurs(oursOptions(name, ourNode, false));
      cleanups.push(() => stopServer(server));
      ours.push(server);
    }
    const peer = await startPeer(node, database.url, false);
    cleanups.push(() => stopServer(peer));
    auth = await signIn(ours[0]!);

    const rounds: Round[] = [];
    for (const shape of OPTIONS.shapes) {
      const r = requests(shape, fixtures, shape.size, auth);
      const of = (server: Server) => (server === peer ? r.peer : r.ours);
      const servers = [...ours, peer];
      for (const server of servers) await post(server.url, of(server).body, of(server).headers);
      if (OPTIONS.warmupSeconds > 0) {
        progress(`${shape.name}: warming up, ${OPTIONS.warmupSeconds} s each`);
        for (const server of servers) {
          await load(node, { url: server.url, ...of(server), connections: OPTIONS.connections, durationSeconds: OPTIONS.warmupSeconds });
        }
      }
      for (let round = 1; round <= OPTIONS.rounds; round += 1) {
        // Rotate who goes first, so that no server always follows the same one.
        const order = servers.map((_, i) => servers[(i + round - 1) % servers.length] as Server);
        for (const server of order) {
          progress(`${shape.name} round ${round}/${OPTIONS.rounds}: ${server.name}, ${OPTIONS.durationSeconds} s, ${OPTIONS.connections} connections`);
          const cpuBefore = cpuSeconds(server.child.pid);
          const result = await load(node, { url: server.url, ...of(server), connections: OPTIONS.connections, durationSeconds: OPTIONS.durationSeconds });
          const cpuAfter = cpuSeconds(server.child.pid);
          const cpuMsPerRequest =
            cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / result.requests : undefined;
          rounds.push({ shape: shape.name, round, server: server.name, ...result, ...(cpuMsPerRequest !== undefined ? { cpuMsPerRequest } : {}) });
        }
      }
    }

    const summary = OPTIONS.shapes.flatMap((shape) =>
      [...ours, peer].map((server) => {
        const mine = rounds.filter((r) => r.shape === shape.name && r.server === server.name);
        const peerRounds = rounds.filter((r) => r.shape === shape.name && r.server === peer.name);
        const rps = mine.reduce((sum, r) => sum + r.rps, 0) / mine.length;
        return {
          shape: shape.name,
          server: server.name,
          rps,
          ratio: rps / (peerRounds.reduce((sum, r) => sum + r.rps, 0) / peerRounds.length),
          perRound: mine.map((r, i) => r.rps / (peerRounds[i]?.rps ?? Number.NaN)),
          p50: median(mine.map((r) => r.p50)),
          p99: median(mine.map((r) => r.p99)),
          errors: mine.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
          cpuMsPerRequest: mine.every((r) => r.cpuMsPerRequest !== undefined) ? median(mine.map((r) => r.cpuMsPerRequest ?? 0)) : undefined,
          statements: server === peer ? statements.get(shape.name)!.peer : statements.get(shape.name)!.ours,
        };
      }),
    );

    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
    const cpus = os.cpus();
    const header = [
      `this API ${OPTIONS.cached ? 'with its shared response cache (--cached)' : 'uncached (RESPONSE_CACHE=off)'}; ` +
        `${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty ? ' (with uncommitted changes in src/)' : ''}; ` +
        `${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}; PostgreSQL ${rows[0]?.v ?? '?'} (${database.source})`,
      `${ourNodes.map((n) => `${n.name} on Node ${n.version}`).join(', ')}, the peer on Node ${node24Version}; ` +
        `seed scale ${OPTIONS.scale}: ${seed.products} products (${seed.visibleProducts} visible), ${seed.reviews} reviews, ${fixtures.orders} orders; ` +
        `${OPTIONS.rounds} interleaved rounds of ${OPTIONS.durationSeconds} s per shape, autocannon ${OPTIONS.connections} connections`,
    ];
    const table = [
      '| shape | server | req/s | ratio to the peer | per round | p50 / p99 | server CPU / request | statements (small / large page) | errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.shape} | ${s.server} | ${fmt(s.rps)} | ${s.server === peer.name ? '' : `**${fmt(s.ratio, 2)}**`} | ` +
          `${s.server === peer.name ? '' : s.perRound.map((x) => fmt(x, 2)).join(', ')} | ${fmt(s.p50)} / ${fmt(s.p99)} ms | ` +
          `${s.cpuMsPerRequest === undefined ? 'n/a' : `${fmt(s.cpuMsPerRequest, 2)} ms`} | ${s.statements} | ${s.errors} |`,
      ),
    ];
    console.log(['', ...header, '', ...OPTIONS.shapes.map((s) => `- ${s.name}: ${s.description}`), '', ...table, ''].join('\n'));
    for (const server of [...ours, peer]) {
      if (server.errorLines.length > 0) console.log(`WARNING: ${server.name} logged errors, e.g. ${server.errorLines[0]}`);
    }
    for (const s of summary) {
      if (s.errors > 0) console.log(`WARNING: ${s.server} had ${s.errors} failed requests on ${s.shape} (errors, timeouts, non-2xx)`);
    }

    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    const options = { ...OPTIONS, shapes: OPTIONS.shapes.map((s) => s.name) };
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify({ generatedAt: new Date().toISOString(), commit, dirty, options, seed, fixtures, durationSeconds: (Date.now() - started) / 1000, summary, rounds }, null, 2)}\n`,
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
