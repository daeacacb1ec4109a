/**
 * SIGTERM to a server process holding 100 open WebSockets with a
 * subscription each: readiness turns 503 first while the sockets stay open
 * (the drain delay), then every socket is closed with 1001, and the process
 * exits 0 within SHUTDOWN_TIMEOUT_MS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, jest } from '@jest/globals';

import { launchApi } from './helpers/api-child.js';
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
    const api = await launchApi({
      env: {
        DATABASE_URL: database.url,
        JWT_KEY_FILE: path.join(keys, 'keys.json'),
        LOG_LEVEL: 'warn',
        MIGRATE_ON_START: 'true',
        SEED_DEMO_DATA: 'true',
        SHUTDOWN_DRAIN_DELAY_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '20000',
      },
    });
    cleanups.push(api.stop);
    const { child, baseUrl, exited } = api;
    const ready = async () => (await fetch(`${baseUrl}/health/ready`, { headers: { connection: 'close' } }).catch(() => undefined))?.status;

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
    let status: number | undefined;
    const failBy = Date.now() + 10_000;
    while (status !== 503) {
      if (Date.now() > failBy) throw new Error(`readiness did not fail:\n${api.output()}`);
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
