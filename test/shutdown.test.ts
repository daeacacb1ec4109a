/**
 * Graceful shutdown of the real process: the server runs as a child process
 * (`node --import tsx src/main.ts`, `npm start`, `npm run start:prod`) and
 * gets SIGTERM while it is serving. During the drain delay readiness fails
 * and requests are still served, with `Connection: close`; then new requests
 * get a clean 503, the listener closes, requests in flight complete, and the
 * process exits 0 and frees its port. No client ever sees a reset.
 *
 * "In flight" is made deterministic: those requests send their headers and
 * half of their body, and the rest only after the listener has closed, so
 * they are still running during the whole shutdown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { projectRoot } from '../src/util/project-root.js';
import { launchApi, type ApiChild, type ApiCommand } from './helpers/api-child.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

jest.setTimeout(120_000);

const QUERY = JSON.stringify({ query: '{ categories { slug } products(first: 5) { totalCount } }' });
const CATALOG = { categories: [], products: { totalCount: 0 } };

type Started = ApiChild;

interface ShutdownSettings {
  drainDelayMs: number;
  timeoutMs: number;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(command: ApiCommand, { drainDelayMs, timeoutMs }: ShutdownSettings): Promise<Started> {
  const database: TestDatabase = await createTestDatabase();
  cleanups.push(() => database.drop());
  const keys = await mkdtemp(path.join(os.tmpdir(), 'marketplace-shutdown-'));
  cleanups.push(() => rm(keys, { recursive: true, force: true }));
  const started = await launchApi({
    command,
    env: {
      DATABASE_URL: database.url,
      MIGRATE_ON_START: 'true',
      SHUTDOWN_DRAIN_DELAY_MS: String(drainDelayMs),
      SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
      ...(command === 'npm run start:prod'
        ? { NODE_ENV: 'production', JWT_SIGNING_KEYS: await generateSigningJwks('EdDSA') }
        : { NODE_ENV: 'test', JWT_KEY_FILE: path.join(keys, 'keys.json') }),
    },
  });
  cleanups.push(started.stop);
  return started;
}

function pidOf(server: Started): number {
  if (server.child.pid === undefined) throw new Error('no pid');
  return server.child.pid;
}

/** The server's own account of the shutdown (logged by main.ts). */
function shutdownReport(output: string): Record<string, unknown> | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"shutting down: every connection has ended"') || l.includes('"msg":"SHUTDOWN_TIMEOUT_MS reached'));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

function send(port: number, agent: http.Agent | false, body = QUERY): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/graphql', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, reusedSocket: request.reusedSocket }));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

interface Held {
  /** Sends the rest of the body; resolves with the response. */
  finish(): Promise<{ status: number; connection: string | undefined; body: string }>;
}

/** A POST /graphql that has sent its headers and half of its body, on a connection of its own. */
async function holdRequest(port: number): Promise<Held> {
  const body = Buffer.from(QUERY);
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/graphql',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  request.flushHeaders();
  await new Promise<void>((resolve) => request.write(body.subarray(0, 10), () => resolve()));
  return {
    async finish() {
      request.end(body.subarray(10));
      const res = await response;
      let text = '';
      for await (const chunk of res) text += String(chunk);
      return { status: res.statusCode ?? 0, connection: res.headers.connection, body: text };
    },
  };
}

/** Whether a new TCP connection to the port is refused (the listener is closed). */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNREFUSED' ? resolve(true) : reject(error)));
  });
}

/** The port can be bound again. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function expectServiceUnavailable(answer: { status: number; headers: Record<string, string | string[] | undefined> | Headers; body: string }): void {
  const header = (name: string) => (answer.headers instanceof Headers ? answer.headers.get(name) : answer.headers[name]);
  expect(answer.status).toBe(503);
  expect(header('connection')).toBe('close');
  expect(header('retry-after')).toBe('1');
  const body = JSON.parse(answer.body) as { errors: Array<{ extensions: Record<string, unknown> }> };
  expect(body.errors[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', requestId: header('x-request-id') });
}

function expectCatalog(text: string): void {
  const body = JSON.parse(text) as { data?: unknown; errors?: unknown };
  expect(body.errors).toBeUndefined();
  expect(body.data).toEqual(CATALOG);
}

/** Builds dist/ for `npm run start:prod`, the way an operator does before starting it. */
async function build(): Promise<void> {
  await promisify(execFile)('npm', ['run', '--silent', 'build'], {
    cwd: projectRoot(),
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 300_000,
  });
}

describe('graceful shutdown', () => {
  it('serves during the drain delay, then answers 503 on kept-alive connections, finishes requests in flight and exits 0', async () => {
    const DRAIN_DELAY_MS = 6_000;
    const server = await start('node', { drainDelayMs: DRAIN_DELAY_MS, timeoutMs: 60_000 });
    // A keep-alive client that is idle when the signal comes, and sends again once the listener is closed.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => keepAlive.destroy());
    const first = await send(server.port, keepAlive);
    expect(first.status).toBe(200);
    expect(first.headers.connection).toBe('keep-alive');

    const held = await Promise.all(Array.from({ length: 16 }, () => holdRequest(server.port)));
    // Let the server see their headers; one it had not seen yet would still be served (the drain delay serves).
    await sleep(300);
    const signalledAt = Date.now();
    process.kill(pidOf(server), 'SIGTERM');

    // Readiness turns 503 at once, with the reason.
    let ready: Response | undefined;
    for (let i = 0; i < 200; i++) {
      ready = await fetch(`http://127.0.0.1:${server.port}/health/ready`);
      if (ready.status === 503) break;
      await sleep(50);
    }
    expect(ready?.status).toBe(503);
    expect(ready?.headers.get('connection')).toBe('close');
    expect(await ready?.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });

    // During the delay a new request is served normally, and told to close its connection.
    const served = await send(server.port, false);
    expect(Date.now() - signalledAt).toBeLessThan(DRAIN_DELAY_MS);
    expect(served.status).toBe(200);
    expect(served.headers.connection).toBe('close');
    expectCatalog(served.body);

    // After the delay the listener closes (probes spaced wider than the quiet period it waits for).
    const refusedBy = Date.now() + 60_000;
    while (!(await connectionRefused(server.port))) {
      if (Date.now() > refusedBy) throw new Error(`the listener did not close:\n${server.output()}`);
      await sleep(500);
    }
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);

    // The idle kept-alive connection was left open: its next request gets an answer, not a reset.
    const late = await send(server.port, keepAlive);
    expect(late.reusedSocket).toBe(true);
    expectServiceUnavailable(late);

    // Everything in flight completes normally.
    const finished = await Promise.all(held.map((h) => h.finish()));
    for (const response of finished) {
      expect(response.status).toBe(200);
      expectCatalog(response.body);
      expect(response.connection).toBe('close');
    }

    expect(await server.exited).toBe(0);
    expect(await portIsFree(server.port)).toBe(true);
    expect(shutdownReport(server.output())).toMatchObject({ refused: 1, cut: 0 });
    expect(server.output()).toContain('"msg":"stopped"');
  });

  describe('under continuous keep-alive load (16 clients of Node fetch), SIGTERM through npm', () => {
    const CLIENTS = 16;
    const DRAIN_DELAY_MS = 4_000;

    interface Load {
      /** 200s before the server showed it was shutting down. */
      before: number;
      /** 200s with `Connection: close`: served during the drain delay. */
      served: number;
      /** Of those, requests sent after the first `Connection: close` was seen: new requests served during the delay. */
      servedNew: number;
      /** Responses without `Connection: close` to requests sent after the first one that had it. */
      closeMissing: number;
      /** 503 answers after the delay, each checked for Retry-After, Connection: close and the coded body. */
      unavailable: Array<{ status: number; headers: Headers; body: string; afterSignalMs: number }>;
      /** New connections refused once the listener closed (the client stops there), ms after the signal. */
      refusedAfterMs: number[];
      /** Resets, hang-ups, timeouts, unexpected statuses: must stay empty. */
      failures: string[];
    }

    function errorCode(error: unknown): string {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return cause?.code ?? (error as { code?: string }).code ?? String(error);
    }

    /** Sends catalog requests without pause until its new connection is refused; honours Retry-After. */
    async function client(base: string, load: Load, signal: { at: number | undefined; closeSeenAt: number | undefined }): Promise<void> {
      for (;;) {
        const sentAt = Date.now();
        try {
          const response = await fetch(`${base}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: QUERY,
            signal: AbortSignal.timeout(60_000),
          });
          const body = await response.text();
          const closes = response.headers.get('connection') === 'close';
          if (closes && signal.at !== undefined) signal.closeSeenAt ??= Date.now();
          const afterCloseSeen = signal.closeSeenAt !== undefined && sentAt >= signal.closeSeenAt;
          if (afterCloseSeen && !closes) load.closeMissing += 1;
          if (response.status === 200) {
            if (!closes) load.before += 1;
            else {
              load.served += 1;
              if (afterCloseSeen) load.servedNew += 1;
            }
          } else if (response.status === 503 && signal.at !== undefined) {
            load.unavailable.push({ status: response.status, headers: response.headers, body, afterSignalMs: Date.now() - signal.at });
            await sleep(Number(response.headers.get('retry-after')) * 1000);
          } else {
            load.failures.push(`HTTP ${response.status}: ${body.slice(0, 200)}`);
            return;
          }
        } catch (error) {
          const code = errorCode(error);
          if (code === 'ECONNREFUSED' && signal.at !== undefined) load.refusedAfterMs.push(Date.now() - signal.at);
          else load.failures.push(code);
          return;
        }
      }
    }

    async function shutDownUnderLoad(command: ApiCommand): Promise<void> {
      const server = await start(command, { drainDelayMs: DRAIN_DELAY_MS, timeoutMs: 30_000 });
      const base = `http://127.0.0.1:${server.port}`;
      const load: Load = { before: 0, served: 0, servedNew: 0, closeMissing: 0, unavailable: [], refusedAfterMs: [], failures: [] };
      const signal: { at: number | undefined; closeSeenAt: number | undefined } = { at: undefined, closeSeenAt: undefined };
      const clients = Array.from({ length: CLIENTS }, () => client(base, load, signal));

      // Every client is under way, on connections kept alive.
      const loadedBy = Date.now() + 60_000;
      while (load.before < CLIENTS * 5 && load.failures.length === 0 && Date.now() < loadedBy) await sleep(20);
      expect(load.failures).toEqual([]);
      expect(load.before).toBeGreaterThanOrEqual(CLIENTS * 5);

      signal.at = Date.now();
      process.kill(pidOf(server), 'SIGTERM');
      const exitCode = await server.exited;
      await Promise.all(clients);

      // Every request got an HTTP answer: no reset, no hang-up.
      expect(load.failures).toEqual([]);
      expect(exitCode).toBe(0);
      expect(await portIsFree(server.port)).toBe(true);

      // During the delay: served normally, including requests sent after the drain began; all told to close.
      expect(load.served).toBeGreaterThan(0);
      expect(load.servedNew).toBeGreaterThan(0);
      expect(load.closeMissing).toBe(0);
      // After it: 503 with Retry-After, then refused connections, and nothing else.
      expect(load.unavailable.length).toBeGreaterThan(0);
      for (const answer of load.unavailable) {
        expect(answer.afterSignalMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);
        expectServiceUnavailable(answer);
      }
      for (const ms of load.refusedAfterMs) expect(ms).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);

      const report = shutdownReport(server.output());
      expect(report).toMatchObject({ cut: 0 });
      expect(report?.['servedDuringDelay']).toBeGreaterThanOrEqual(load.servedNew);
      expect(server.output()).toContain('"msg":"stopped"');
    }

    it('`npm start`: 200 during the delay, then 503 with Retry-After, never a reset; exits 0 and frees the port', async () => {
      await shutDownUnderLoad('npm start');
    });

    describe('`npm run start:prod` (compiled)', () => {
      beforeAll(build, 300_000);

      it('the same from the compiled build under NODE_ENV=production', async () => {
        await shutDownUnderLoad('npm run start:prod');
      });
    });
  });
});
