/**
 * The database goes away under 100 WebSocket subscribers and comes back:
 * nothing exits, the sockets stay open, the LISTEN connection reconnects by
 * itself, and the first change after recovery reaches every subscriber.
 * Changes committed during the outage are not replayed (none can commit:
 * the database is the one that is down).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { until, wsClient, type WsClient } from './helpers/live.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';

const SUBSCRIBERS = 100;
let proxy: TcpProxy;
let server: TestServer;
let seller: Account;
let product: ProductRow;
const clients: WsClient[] = [];

beforeAll(async () => {
  const direct = new URL(process.env.TEST_PG_URL ?? '');
  proxy = await TcpProxy.create({ host: direct.hostname, port: Number(direct.port || 5432) });
  await proxy.forward();
  server = await startTestServer({ appDatabaseUrl: (url) => throughProxy(url, proxy) });
  await until(() => server.app.live.channel.listening, 'the listener');
  seller = await createAccount(server, { role: 'SELLER' });
  product = await seeder(server.db).product({ seller: seller.user, stock: 5 });
});

afterAll(async () => {
  await Promise.all(clients.map((created) => created.dispose()));
  await server?.close();
  await proxy?.stop();
});

describe('a database outage under live subscribers', () => {
  it('keeps every socket, reconnects the listener, and delivers the first change after recovery to all', async () => {
    for (let i = 0; i < SUBSCRIBERS; i += 1) clients.push(wsClient(server));
    const streams = clients.map((created) => created.subscribe('subscription ($id: ID!) { productUpdated(id: $id) { id stock } }', { id: gid('Product', product) }));
    await until(() => server.app.live.streams === SUBSCRIBERS, `${SUBSCRIBERS} streams`, 15_000);

    await proxy.stop();
    await until(() => !server.app.live.channel.listening, 'the listener to notice the outage', 10_000);
    expect((await server.request('/health/live')).status).toBe(200);

    await proxy.forward();
    // Backoff is at most 5 s between attempts.
    await until(() => server.app.live.channel.listening, 'the listener to reconnect', 15_000);
    const update = await server.graphql(
      'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }',
      { input: { productId: gid('Product', product), expectedVersion: product.version, stock: 4 } },
      { headers: seller.headers },
    );
    expect(update.body.errors).toBeUndefined();
    await until(() => streams.every((stream) => stream.results.length === 1), 'every subscriber to hear the change', 15_000);
    expect(new Set(streams.map((stream) => JSON.stringify(stream.results[0])))).toEqual(new Set([JSON.stringify({ data: { productUpdated: { id: gid('Product', product), stock: 4 } } })]));
    expect(clients.every((created) => created.closes.length === 0)).toBe(true);
  }, 60_000);
});
