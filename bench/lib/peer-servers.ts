/**
 * The processes of `npm run bench:peer`: this API's production build and
 * PostGraphile (bench/peer/server.mjs), each optionally behind a
 * statement-counting proxy, and the autocannon rounds against them
 * (bench/peer/load.mjs, a process of its own so that load generation never
 * shares an event loop with either server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { startStatementCounter, type StatementCounter } from './pg-counter.js';
import { freePort } from './production-server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PEER_DIR = path.join(ROOT, 'bench', 'peer');

export interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  /** Set on an instance behind a counting proxy. */
  counter: StatementCounter | undefined;
  /** Log lines the server wrote at error level or above. */
  errorLines: string[];
}

export interface OursOptions {
  name: string;
  node: string;
  databaseUrl: string;
  counted: boolean;
  /** The same keys for every instance, so that a token from one is good on the others. */
  signingKeys: string;
  cached: boolean;
  profileDir: string | undefined;
}

async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited with code ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
}

function watchOutput(server: Server): void {
  createInterface({ input: server.child.stdout! }).on('line', (line) => {
    // pino levels: 50 error, 60 fatal.
    if (/"level":(50|60)/.test(line) && server.errorLines.length < 20) server.errorLines.push(line);
  });
  createInterface({ input: server.child.stderr! }).on('line', (line) => {
    if (!line.includes('GRAPHILE_ENV') && server.errorLines.length < 20) server.errorLines.push(line);
  });
}

export async function startOurs(options: OursOptions): Promise<Server> {
  const counter = options.counted ? await startStatementCounter(options.databaseUrl) : undefined;
  const port = await freePort();
  const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = spawn(options.node, [...profile, 'dist/src/main.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: counter?.url ?? options.databaseUrl,
      MIGRATE_ON_START: 'false',
      // The uncached path is what is compared, unless --cached asks for the shared response cache.
      RESPONSE_CACHE: options.cached ? 'memory' : 'off',
      JWT_SIGNING_KEYS: options.signingKeys,
      // Many measured requests from one address: the per-principal cost budget must not refuse them.
      RATE_LIMIT_BUDGET: '1000000000',
      // The phase reads of src/transitions/ (one statement per refresh) would be counted as the requests' statements.
      TRANSITION_REFRESH_MS: '60000',
      // No job worker in the API's process, as in the compose file and on Kubernetes (the worker is a service of
      // its own there): its polls are not request statements, and the peer runs none.
      WORKER: 'off',
    },
  });
  const server: Server = { name: options.name, url: `http://127.0.0.1:${port}/graphql`, child, counter, errorLines: [] };
  watchOutput(server);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, options.name, child);
  return server;
}

export async function startPeer(node: string, databaseUrl: string, counted: boolean): Promise<Server> {
  const counter = counted ? await startStatementCounter(databaseUrl) : undefined;
  const port = await freePort();
  const child = spawn(node, [path.join(PEER_DIR, 'server.mjs')], {
    cwd: PEER_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', PORT: String(port), DATABASE_URL: counter?.url ?? databaseUrl },
  });
  const server: Server = { name: 'PostGraphile 5', url: `http://127.0.0.1:${port}/graphql`, child, counter, errorLines: [] };
  watchOutput(server);
  await waitFor(
    async () => (await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })).ok,
    'PostGraphile',
    child,
  );
  return server;
}

export async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode === null) {
    const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await server.counter?.close();
}

/** One GraphQL request; an HTTP error or a GraphQL error fails the run. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body });
  const json: unknown = await response.json();
  if (!response.ok || (json as { errors?: unknown }).errors) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Statements per request, counted on the wire over sequential requests (nothing else runs meanwhile). */
export async function statementsPerRequest(server: Server, body: string, headers: Record<string, string>, requests = 10): Promise<number[]> {
  const { counter } = server;
  if (!counter) throw new Error(`${server.name} runs without a counting proxy`);
  const counts: number[] = [];
  for (let i = 0; i < requests; i += 1) {
    const before = counter.statements;
    await post(server.url, body, headers);
    // The statements of a request are on the wire before its response leaves the server.
    counts.push(counter.statements - before);
  }
  return counts;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** A round of autocannon (Node 24, bench/peer/load.mjs) against `url`. */
export function load(
  node: string,
  { url, body, headers, connections, durationSeconds }: { url: string; body: string; headers: Record<string, string>; connections: number; durationSeconds: number },
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = JSON.stringify({ url, body, headers, connections, durationSeconds });
    const child = spawn(node, [path.join(PEER_DIR, 'load.mjs'), args], { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with code ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadResult);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux this runs on). */
const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux
 * only; undefined elsewhere). Both servers are busy for the same wall time in
 * a round, so CPU per request compares their cost more steadily than req/s,
 * which moves with whatever else the machine's cores are doing.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": after the command, utime and stime are the 12th and 13th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}
