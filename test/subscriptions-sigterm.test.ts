/**
 * SIGTERM to a server process holding 100 open WebSockets with a
 * subscription each: readiness turns 503 first while the sockets stay open
 * (the drain delay), then every socket is closed with 1001, and the process
 * exits 0 within SHUTDOWN_TIMEOUT_MS.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, jest } from '@jest/globals';

import { findFreePort } from '../src/db/embedded.js';
import { projectRoot } from '../src/util/project-root.js';
import { createTestDatabase } from './helpers/database.js';
import { until, wsClient, type WsClient } from './helpers/live.js';
import type { TestServer } from './helpers/server.js';

jest.setTimeout(120_000);

const SOCKETS = 100;
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe('SIGTERM with open WebSockets', () => {
  it('fails readiness first, then closes every socket with 1001 and exits 0', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const keys = await mkdtemp(path.join(os.tmpdir(), 'marketplace-live-sigterm-'));
    cleanups.push(() => rm(keys, { recursive: true, force: true }));
    const port = await findFreePort();
    const child = spawn('node', ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot(),
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: database.url,
        JWT_KEY_FILE: path.join(keys, 'keys.json'),
        LOG_LEVEL: 'warn',
        MIGRATE_ON_START: 'true',
        SEED_DEMO_DATA: 'true',
        SHUTDOWN_DRAIN_DELAY_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '20000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    const ready = async () => (await fetch(`${baseUrl}/health/ready`, { headers: { connection: 'close' } }).catch(() => undefined))?.status;
    let status: number | undefined;
    const deadline = Date.now() + 60_000;
    while (status !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await ready();
    }

    const catalog = (await (await fetch(`${baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ query: '{ products(first: 1) { nodes { id } } }' }) })).json()) as {
      data: { products: { nodes: Array<{ id: string }> } };
    };
    const productId = catalog.data.products.nodes[0]?.id;
    if (!productId) throw new Error('the demo data has no product');
    const server = { baseUrl } as TestServer;
    const clients: WsClient[] = Array.from({ length: SOCKETS }, () => wsClient(server));
    const streams = clients.map((client) => client.subscribe('subscription ($id: ID!) { productUpdated(id: $id) { id } }', { id: productId }));
    await Promise.all(clients.map((client) => client.connected));

    child.kill('SIGTERM');
    const failBy = Date.now() + 10_000;
    while (status !== 503) {
      if (Date.now() > failBy) throw new Error(`readiness did not fail:\n${output}`);
      status = await ready();
    }
    // Readiness fails while the sockets are still open: the drain delay serves on.
    expect(clients.filter((client) => client.closes.length > 0)).toHaveLength(0);
    await until(() => clients.every((client) => client.closes.length > 0), 'every socket to close', 20_000);
    expect(new Set(clients.map((client) => JSON.stringify(client.closes)))).toEqual(new Set(['[1001]']));
    expect(streams.every((stream) => stream.ended)).toBe(true);
    expect(await exited).toBe(0);
  });
});
