/**
 * Live connections through the life of an instance: the LISTEN connection
 * coming back by itself after the database dropped it, the caps on
 * connections and message size, and shutdown (what main.ts runs on
 * SIGTERM) closing every socket with 1001 while the listener closes last.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import WebSocket from 'ws';

import { documentHash } from '../src/limits/trusted-documents.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import { createAccount } from './helpers/auth.js';
import { sseSubscribe, until, wsClient, type WsClient } from './helpers/live.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let category: CategoryRow;
const clients: WsClient[] = [];
const PRODUCT_UPDATED = 'subscription ($id: ID!) { productUpdated(id: $id) { id stock } }';

function client(target: TestServer = server): WsClient {
  const created = wsClient(target);
  clients.push(created);
  return created;
}

async function listenerPid(target: TestServer): Promise<number | undefined> {
  const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE application_name = 'marketplace-api live updates' AND datname = current_database()`.execute(target.db);
  return rows.length === 1 ? rows[0]?.pid : undefined;
}

/** A raw WebSocket on /graphql speaking graphql-transport-ws: resolves with the HTTP status of a refused upgrade, or the socket. */
function rawSocket(target: TestServer, headers: Record<string, string> = {}): Promise<{ socket?: WebSocket; status?: number; body?: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${target.baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    socket.once('open', () => resolve({ socket }));
    socket.once('unexpected-response', (_request, response) => {
      const body = new Promise<string>((done) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => done(text));
      });
      resolve({ status: response.statusCode ?? 0, body });
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  server = await startTestServer({ env: { SUBSCRIPTIONS_MAX_CONNECTIONS_PER_IP: '3', SUBSCRIPTIONS_MAX_MESSAGE_BYTES: '4096' } });
  await until(() => server.app.live.channel.listening, 'the listener');
  category = await seeder(server.db).category();
});

afterAll(async () => {
  await Promise.all(clients.map((created) => created.dispose()));
  await server?.close();
});

describe('the LISTEN connection', () => {
  it('reconnects by itself after the database ended it, and later changes are delivered', async () => {
    const seller = await createAccount(server, { role: 'SELLER' });
    const product = await seeder(server.db).product({ seller: seller.user, category, stock: 5 });
    const ws = client();
    const updates = ws.subscribe(PRODUCT_UPDATED, { id: gid('Product', product) });
    await until(() => server.app.live.streams === 1, 'the stream');
    const before = await listenerPid(server);
    expect(before).toBeDefined();

    await sql`SELECT pg_terminate_backend(${before})`.execute(server.db);
    let after: number | undefined;
    const deadline = Date.now() + 10_000;
    while ((after === undefined || after === before || !server.app.live.channel.listening) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      after = await listenerPid(server);
    }
    expect(after).toBeDefined();
    expect(after).not.toBe(before);

    const update = await server.graphql('mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }', { input: { productId: gid('Product', product), expectedVersion: product.version, stock: 7 } }, { headers: seller.headers });
    expect(update.body.errors).toBeUndefined();
    await until(() => updates.results.length === 1, 'the change after the reconnection');
    expect(updates.results[0]?.data?.['productUpdated']).toEqual({ id: gid('Product', product), stock: 7 });
    await ws.dispose();
    await until(() => server.app.live.streams === 0, 'the stream to close');
  });
});

describe('the upgrade request', () => {
  it("meets the request hooks: a bad Authorization header is answered 401 UNAUTHENTICATED, never upgraded", async () => {
    const refused = await rawSocket(server, { authorization: 'Bearer not-a-token' });
    expect(refused.status).toBe(401);
    expect(JSON.parse((await refused.body) ?? '{}')).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    await until(() => server.app.live.connections.size === 0, 'no live connection');
  });
});

describe('trusted documents (TRUSTED_DOCUMENTS_FILE)', () => {
  it('lets only listed subscription documents open a stream, like queries over HTTP', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'live-trusted-'));
    const file = path.join(dir, 'trusted.json');
    writeFileSync(file, JSON.stringify({ [documentHash(PRODUCT_UPDATED)]: PRODUCT_UPDATED }));
    const trusted = await startTestServer({ shareDatabaseOf: server, env: { TRUSTED_DOCUMENTS_FILE: file } });
    try {
      const id = gid('Product', await seeder(server.db).product({ category }));
      const listed = sseSubscribe(trusted, PRODUCT_UPDATED, { id });
      expect(await listed.status).toBe(200);
      listed.close();
      const other = sseSubscribe(trusted, 'subscription ($id: ID!) { productUpdated(id: $id) { id title } }', { id });
      expect(await other.status).toBe(400);
      expect((await other.refusal)?.errors?.[0]?.extensions?.['code']).toBe('DOCUMENT_NOT_TRUSTED');
    } finally {
      await trusted.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query-cost budgets', () => {
  it('charge each subscribe its requested cost, and refuse one over the budget with RATE_LIMITED', async () => {
    const budgeted = await startTestServer({ shareDatabaseOf: server, env: { RATE_LIMIT_BUDGET: '5', QUERY_MAX_COST: '5' } });
    try {
      const id = gid('Product', await seeder(server.db).product({ category }));
      const statuses: number[] = [];
      let refusal;
      while (statuses.length < 10 && !statuses.includes(429)) {
        const stream = sseSubscribe(budgeted, PRODUCT_UPDATED, { id });
        statuses.push(await stream.status);
        if (statuses.at(-1) === 429) refusal = await stream.refusal;
        stream.close();
      }
      expect(statuses[0]).toBe(200);
      expect(statuses.at(-1)).toBe(429);
      expect(refusal?.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    } finally {
      await budgeted.close();
    }
  });
});

describe('abuse', () => {
  it('refuses 1,000 subscribe messages on one socket beyond the per-connection cap, each with its code, and keeps serving', async () => {
    const product = await seeder(server.db).product({ category });
    const ws = client();
    const all = Array.from({ length: 1_000 }, () => ws.subscribe(PRODUCT_UPDATED, { id: gid('Product', product) }));
    await until(() => all.filter((stream) => stream.ended).length === 1_000 - 25, 'the refusals', 60_000);
    expect(new Set(all.filter((stream) => stream.ended).flatMap((stream) => stream.errorCodes))).toEqual(new Set(['SUBSCRIPTION_LIMIT_REACHED']));
    await until(() => server.app.live.streams === 25, 'the 25 accepted streams');
    expect(all.filter((stream) => !stream.ended)).toHaveLength(25);
    expect((await server.graphql('{ __typename }')).status).toBe(200);
    await ws.dispose();
    await until(() => server.app.live.streams === 0, 'the streams to close');
  }, 120_000);

  it('closes a socket that sends a message over SUBSCRIPTIONS_MAX_MESSAGE_BYTES with 1009, and keeps serving', async () => {
    const { socket } = await rawSocket(server);
    if (!socket) throw new Error('the upgrade was refused');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(10_000) } }));
    expect(await closed).toBe(1009);
    expect((await server.graphql('{ __typename }')).status).toBe(200);
  });

  it('answers 429 SUBSCRIPTION_LIMIT_REACHED to connections over the per-IP cap, on both transports', async () => {
    await until(() => server.app.live.connections.size === 0, 'no live connection left from earlier tests');
    const open = await Promise.all([rawSocket(server), rawSocket(server), rawSocket(server)]);
    expect(open.map((result) => result.status)).toEqual([undefined, undefined, undefined]);
    expect((await rawSocket(server)).status).toBe(429);
    const sse = sseSubscribe(server, PRODUCT_UPDATED, { id: gid('Product', await seeder(server.db).product({ category })) });
    expect(await sse.status).toBe(429);
    expect((await sse.refusal)?.errors?.[0]?.extensions?.['code']).toBe('SUBSCRIPTION_LIMIT_REACHED');
    const closing = open.map(({ socket }) => new Promise((resolve) => socket?.once('close', resolve)));
    for (const { socket } of open) socket?.close();
    await Promise.all(closing);
    await until(() => server.app.live.connections.size === 0, 'the connections to be released');
  });
});

describe('shutdown', () => {
  it('ends every stream, closes all 100 sockets with 1001, and closes the listener last', async () => {
    const instance = await startTestServer({ shareDatabaseOf: server });
    try {
      await until(() => instance.app.live.channel.listening, 'the listener');
      const product = await seeder(server.db).product({ category });
      const sockets = Array.from({ length: 100 }, () => client(instance));
      const streams = sockets.map((ws) => ws.subscribe(PRODUCT_UPDATED, { id: gid('Product', product) }));
      const sse = sseSubscribe(instance, PRODUCT_UPDATED, { id: gid('Product', product) });
      await until(() => instance.app.live.streams === 101, '101 streams', 60_000);

      const report = await instance.app.drain.shutdown({ delayMs: 0, timeoutMs: 10_000 });
      expect(new Set(sockets.map((ws) => JSON.stringify(ws.closes)))).toEqual(new Set(['[1001]']));
      expect(streams.every((stream) => stream.ended)).toBe(true);
      await until(() => sse.collected.completed, 'the event stream to end');
      expect(report.cut).toBe(0);
      // Every connection has ended; the LISTEN connection is still up until the app closes.
      expect(instance.app.live.channel.listening).toBe(true);
    } finally {
      await instance.close();
    }
    expect(instance.app.live.channel.listening).toBe(false);
  }, 120_000);
});
