/**
 * The webhook sender keeps connections alive between attempts to one host
 * (src/modules/webhooks/attempt.ts): a second attempt reuses the first one's
 * connection, and a request on a reused connection that the receiver reset
 * before answering is sent once more on a new connection. A reset on a new
 * connection is a failure like any other (not sent twice by the sender).
 * Many attempts at once to one host share at most MAX_SOCKETS_PER_HOST
 * connections, kept for the next ones.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { afterEach, describe, expect, it } from '@jest/globals';

import { MAX_SOCKETS_PER_HOST, send } from '../../src/modules/webhooks/attempt.js';

interface Target {
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Requests read so far, over every connection. */
  readonly requests: number;
  server: Server;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A receiver on 127.0.0.1; `reset(n, k)` says whether to reset, unanswered, the k-th request of its n-th connection. */
async function target(reset: (connection: number, request: number) => boolean = () => false): Promise<Target> {
  let connections = 0;
  let requests = 0;
  const onSocket = new WeakMap<Socket, { n: number; k: number }>();
  const server = createServer((req, res) => {
    requests += 1;
    const seen = onSocket.get(req.socket) ?? { n: 0, k: 0 };
    seen.k += 1;
    req.resume();
    req.on('end', () => {
      if (reset(seen.n, seen.k)) req.socket.resetAndDestroy();
      else res.writeHead(204).end();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    onSocket.set(socket, { n: connections, k: 0 });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    server,
    get connections() {
      return connections;
    },
    get requests() {
      return requests;
    },
  };
}

const attempt = (url: string) => send({ url, headers: { 'webhook-id': 'msg_test' }, body: '{"type":"webhook.test"}' }, { timeoutMs: 2000, allowPrivate: true });

describe('webhook attempts', () => {
  it('reuse the connection of an earlier attempt to the same host', async () => {
    const receiver = await target();
    for (let i = 0; i < 3; i += 1) expect(await attempt(receiver.url)).toMatchObject({ kind: 'delivered', statusCode: 204 });
    expect(receiver.requests).toBe(3);
    expect(receiver.connections).toBe(1);
  });

  it('send once more, on a new connection, a request whose kept-alive connection the receiver reset', async () => {
    // The second request on the first connection is reset unanswered (as a receiver closing an idle connection would).
    const receiver = await target((connection, request) => connection === 1 && request === 2);
    expect(await attempt(receiver.url)).toMatchObject({ kind: 'delivered' });
    expect(await attempt(receiver.url)).toMatchObject({ kind: 'delivered', statusCode: 204 });
    expect(receiver.requests).toBe(3);
    expect(receiver.connections).toBe(2);
  });

  it('share a few connections when many go to one host at once, and keep them for the next ones', async () => {
    const receiver = await target();
    const burst = () => Promise.all(Array.from({ length: 3 * MAX_SOCKETS_PER_HOST }, () => attempt(receiver.url)));
    for (const outcome of [...(await burst()), ...(await burst())]) expect(outcome).toMatchObject({ kind: 'delivered', statusCode: 204 });
    expect(receiver.requests).toBe(6 * MAX_SOCKETS_PER_HOST);
    expect(receiver.connections).toBe(MAX_SOCKETS_PER_HOST);
  });

  it('do not send again a request reset on a new connection', async () => {
    const receiver = await target((_connection, request) => request === 1);
    const outcome = await attempt(receiver.url);
    expect(outcome).toMatchObject({ kind: 'failed', statusCode: null, error: expect.stringContaining('ECONNRESET') });
    expect(receiver.requests).toBe(1);
    expect(receiver.connections).toBe(1);
  });
});
