/**
 * A WebSocket client that subscribes and then stops reading, while events
 * keep coming: the server does not queue its events without bound. Once the
 * socket's unsent bytes pass SUBSCRIPTIONS_MAX_BUFFERED_BYTES it is closed
 * with 4413 (counted in live_slow_sockets_closed_total), and the instance
 * keeps serving queries and the subscribers that do read.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';

import { liveMetrics } from '../src/subscriptions/metrics.js';
import { createAccount } from './helpers/auth.js';
import { until, wsClient, type WsClient } from './helpers/live.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const clients: WsClient[] = [];
/** About 30 kB per event: three copies of a 10,000-character description. */
const BIG_EVENT = 'subscription ($id: ID!) { productUpdated(id: $id) { id stock a: description b: description c: description } }';

async function slowSocketsClosed(): Promise<number> {
  return (await liveMetrics.slowSockets.get()).values[0]?.value ?? 0;
}

/** A raw graphql-transport-ws socket that initialises and subscribes `count` times, then can stop reading. */
async function nonReadingSocket(target: TestServer, query: string, variables: Record<string, unknown>, count: number) {
  const socket = new WebSocket(`${target.baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  const acknowledged = new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      if ((JSON.parse(data.toString()) as { type: string }).type === 'connection_ack') resolve();
    });
    socket.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await acknowledged;
  for (let index = 0; index < count; index += 1) socket.send(JSON.stringify({ id: String(index), type: 'subscribe', payload: { query, variables } }));
  // The TCP socket under the WebSocket: paused, nothing more is read from the kernel.
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  return { closed, stopReading: () => tcp.pause(), readAgain: () => tcp.resume() };
}

beforeAll(async () => {
  // No pings: a client that does not answer a ping would be cut for that reason instead.
  server = await startTestServer({ env: { SUBSCRIPTIONS_MAX_BUFFERED_BYTES: '262144', SUBSCRIPTIONS_KEEPALIVE_MS: '0' } });
  await until(() => server.app.live.channel.listening, 'the listener');
});

afterAll(async () => {
  await Promise.all(clients.map((created) => created.dispose()));
  await server?.close();
});

describe('a socket that never reads', () => {
  it('is closed with 4413 once its unsent events pass SUBSCRIPTIONS_MAX_BUFFERED_BYTES, while other subscribers and queries are served', async () => {
    const seller = await createAccount(server, { role: 'SELLER' });
    const category = await seeder(server.db).category();
    const product = await seeder(server.db).product({ seller: seller.user, category, stock: 1, description: 'd'.repeat(10_000) });
    const id = gid('Product', product);
    const reader = wsClient(server);
    clients.push(reader);
    const read = reader.subscribe('subscription ($id: ID!) { productUpdated(id: $id) { id stock } }', { id });
    const slow = await nonReadingSocket(server, BIG_EVENT, { id }, 20);
    await until(() => server.app.live.streams === 21, 'the 21 streams');
    slow.stopReading();

    const closedBefore = await slowSocketsClosed();
    let version = product.version;
    let stock = 1;
    const deadline = Date.now() + 45_000;
    while ((await slowSocketsClosed()) === closedBefore) {
      if (Date.now() > deadline) throw new Error('the non-reading socket was never closed');
      stock += 1;
      const res = await server.graphql<{ updateProduct: { product: { version: number } | null } }>(
        'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { version } userErrors { code } } }',
        { input: { productId: id, expectedVersion: version, stock } },
        { headers: seller.headers },
      );
      const updated = res.body.data?.updateProduct.product;
      if (!updated) throw new Error(`update failed: ${JSON.stringify(res.body)}`);
      version = updated.version;
    }

    expect((await slowSocketsClosed()) - closedBefore).toBe(1);
    // Its 20 streams ended at once; the reader's stays and hears the last change.
    await until(() => server.app.live.streams === 1 && server.app.live.connections.size === 1, 'only the reader left');
    await until(() => read.results.some((result) => result.data?.['productUpdated'] !== undefined && (result.data['productUpdated'] as { stock: number }).stock === stock), 'the reader to hear the last change', 10_000);
    expect(read.ended).toBe(false);
    const query = await server.graphql<{ product: { stock: number } | null }>('query ($id: ID!) { product(id: $id) { stock } }', { id });
    expect(query.body.data?.product?.stock).toBe(stock);
    // Once it reads again it gets what was queued, then the close frame with the documented code.
    slow.readAgain();
    expect(await slow.closed).toBe(4413);
  }, 90_000);
});
