/**
 * A real PostgreSQL restart (the server process stopped 'immediate', as in a
 * crash, then started again) under 100 WebSocket subscribers: the process
 * does not exit, the sockets stay open, the LISTEN connection comes back by
 * itself, and a change committed after recovery reaches every subscriber.
 * test/subscriptions-outage.test.ts cuts the connections through a proxy;
 * this one stops the database itself. Like test/outage-drill.test.ts it runs
 * a PostgreSQL of its own (embedded, in a temp folder).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { pino } from 'pino';

import { buildApp } from '../src/app.js';
import { hashPassword } from '../src/auth/passwords.js';
import { loadConfig } from '../src/config/config.js';
import { createDb } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { findFreePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { migrateToLatest } from '../src/db/migrator.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { TEST_PASSWORD } from './helpers/auth.js';
import { until, wsClient, type WsClient } from './helpers/live.js';
import { gid, seeder } from './helpers/seed.js';

const SUBSCRIBERS = 100;
const log = pino({ level: 'silent' });
const PRODUCT_UPDATED = 'subscription ($id: ID!) { productUpdated(id: $id) { id stock } }';

let dataDir: string;
let port: number;
let postgres: EmbeddedDatabase;
let adminDb: Kysely<Database>;
let appDb: Kysely<Database>;
let app: FastifyInstance;
let baseUrl: string;
let product: ProductRow;
let sellerHeaders: Record<string, string>;
const clients: WsClient[] = [];

function startPostgres(): Promise<EmbeddedDatabase> {
  return startEmbeddedPostgres({ dir: path.join(dataDir, 'data'), port, database: 'restart', persistent: true, log });
}

async function graphql(query: string, variables: object, headers: Record<string, string> = {}): Promise<{ status: number; body: { data?: Record<string, unknown> | null } }> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown> | null } };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-live-restart-'));
  // As root the cluster runs as the `postgres` user, which must reach its folder.
  await chmod(dataDir, 0o755);
  port = await findFreePort();
  postgres = await startPostgres();
  adminDb = createDb({ url: postgres.url, poolMax: 2, statementTimeoutMs: 30_000 });
  await migrateToLatest(adminDb);
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: postgres.url, SUBSCRIPTIONS_MAX_CONNECTIONS_PER_IP: '1000', SUBSCRIPTIONS_MAX_PER_USER: '1000' });
  appDb = createDb({ url: postgres.url, poolMax: config.databasePoolMax, statementTimeoutMs: config.databaseStatementTimeoutMs, connectTimeoutMs: config.databaseConnectTimeoutMs });
  app = await buildApp({ config, db: appDb, logger: log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  baseUrl = `http://127.0.0.1:${address.port}`;

  const seed = seeder(adminDb);
  const seller = await seed.user({ role: 'SELLER' });
  await adminDb.updateTable('users').set({ password_hash: await hashPassword(TEST_PASSWORD) }).where('id', '=', seller.id).execute();
  product = await seed.product({ seller, stock: 5 });
  const logIn = await graphql('mutation ($input: LogInInput!) { logIn(input: $input) { accessToken } }', { input: { email: seller.email, password: TEST_PASSWORD, refreshTokenDelivery: 'PAYLOAD' } });
  const token = (logIn.body.data?.['logIn'] as { accessToken?: string } | undefined)?.accessToken;
  if (!token) throw new Error(`logIn failed: ${JSON.stringify(logIn.body)}`);
  sellerHeaders = { authorization: `Bearer ${token}` };
  await until(() => app.live.channel.listening, 'the listener', 10_000);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await app?.close();
  await appDb?.destroy();
  await adminDb?.destroy();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('PostgreSQL restarted under live subscribers', () => {
  it('keeps the process and all 100 sockets, the listener reconnects, and the first change after recovery reaches everyone', async () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`process.exit(${String(code)}) during the restart`);
    });
    try {
      const id = gid('Product', product);
      for (let i = 0; i < SUBSCRIBERS; i += 1) clients.push(wsClient({ baseUrl }));
      const streams = clients.map((client) => client.subscribe(PRODUCT_UPDATED, { id }));
      await until(() => app.live.streams === SUBSCRIBERS, `${SUBSCRIBERS} streams`, 30_000);

      await postgres.stop('immediate');
      await until(() => !app.live.channel.listening, 'the listener to notice', 15_000);
      postgres = await startPostgres();
      await until(() => app.live.channel.listening, 'the listener to reconnect', 30_000);

      // The pool may still hand out a connection from before the restart: retry what the server says is retryable.
      let stock = 0;
      const deadline = Date.now() + 30_000;
      while (stock === 0) {
        const res = await graphql('mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { stock } } }', { input: { productId: id, expectedVersion: product.version, stock: 7 } }, sellerHeaders);
        if (res.status === 200 && res.body.data?.['updateProduct']) stock = (res.body.data['updateProduct'] as { product: { stock: number } }).product.stock;
        else if (res.status !== 503 || Date.now() > deadline) throw new Error(`update after recovery: ${res.status} ${JSON.stringify(res.body)}`);
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(stock).toBe(7);
      await until(() => streams.every((stream) => stream.results.some((result) => (result.data?.['productUpdated'] as { stock?: number } | undefined)?.stock === 7)), 'the change at every subscriber', 30_000);

      expect(streams.filter((stream) => stream.ended)).toHaveLength(0);
      expect(clients.flatMap((client) => client.closes)).toEqual([]);
      expect(app.live.streams).toBe(SUBSCRIBERS);
      expect(exit).not.toHaveBeenCalled();
    } finally {
      exit.mockRestore();
    }
  }, 150_000);
});
