/**
 * Graceful shutdown of the real process: the server runs as a child process
 * (`node --import tsx src/main.ts`, and through `npm start`), requests are in
 * flight when SIGTERM arrives. Readiness must fail at once, new requests get
 * a clean 503, the ones in flight complete, the process exits 0 and frees
 * its port.
 *
 * "In flight" is made deterministic: those requests send their headers and
 * half of their body, and the rest only after the server has shown it is
 * shutting down, so they are still running during the whole drain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';

import { findFreePort } from '../src/db/embedded.js';
import { projectRoot } from '../src/util/project-root.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

jest.setTimeout(90_000);

const QUERY = JSON.stringify({ query: '{ categories { slug } products(first: 5) { totalCount } }' });

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(command: 'node' | 'npm'): Promise<Started> {
  const database: TestDatabase = await createTestDatabase();
  cleanups.push(() => database.drop());
  const keys = await mkdtemp(path.join(os.tmpdir(), 'marketplace-shutdown-'));
  cleanups.push(() => rm(keys, { recursive: true, force: true }));
  const port = await findFreePort();
  const args = command === 'npm' ? ['start', '--silent'] : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(command, args, {
    cwd: projectRoot(),
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'true',
      SEED_DEMO_DATA: 'false',
      SHUTDOWN_TIMEOUT_MS: '20000',
      JWT_KEY_FILE: path.join(keys, 'keys.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited during start-up:\n${output}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`the server did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, port, output: () => output, exited };
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

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function shutDownGracefully(server: Started, signalTarget: number): Promise<void> {
  const IN_FLIGHT = 16;
  const held = await Promise.all(Array.from({ length: IN_FLIGHT }, () => holdRequest(server.port)));
  // Let the server see their headers (the request is counted from then on).
  await new Promise((resolve) => setTimeout(resolve, 300));

  process.kill(signalTarget, 'SIGTERM');

  // Readiness turns 503 at once, with the reason.
  let ready: Response | undefined;
  for (let i = 0; i < 100; i++) {
    ready = await fetch(`http://127.0.0.1:${server.port}/health/ready`);
    if (ready.status === 503) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(ready?.status).toBe(503);
  expect(await ready?.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });

  // A new request is refused cleanly: 503, the error shape, Retry-After, Connection: close.
  const refused = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: QUERY,
  });
  expect(refused.status).toBe(503);
  expect(refused.headers.get('connection')).toBe('close');
  expect(refused.headers.get('retry-after')).toBe('1');
  const refusedBody = (await refused.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
  expect(refusedBody.errors[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', requestId: refused.headers.get('x-request-id') });

  // Everything in flight completes normally.
  const finished = await Promise.all(held.map((h) => h.finish()));
  for (const response of finished) {
    expect(response.status).toBe(200);
    const body = JSON.parse(response.body) as { data?: unknown; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ categories: [], products: { totalCount: 0 } });
    expect(response.connection).toBe('close');
  }

  expect(await server.exited).toBe(0);
  expect(await portIsFree(server.port)).toBe(true);
  expect(server.output()).toContain('"msg":"stopped"');
}

describe('graceful shutdown', () => {
  it('on SIGTERM, finishes requests in flight, refuses new ones with 503, closes and exits 0', async () => {
    const server = await start('node');
    if (server.child.pid === undefined) throw new Error('no pid');
    await shutDownGracefully(server, server.child.pid);
  });

  it('does the same under `npm start` when SIGTERM is sent to npm', async () => {
    const server = await start('npm');
    if (server.child.pid === undefined) throw new Error('no pid');
    await shutDownGracefully(server, server.child.pid);
  });
});
