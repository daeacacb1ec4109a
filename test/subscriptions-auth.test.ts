/**
 * Who may subscribe, and who may keep receiving: refusals before any stream
 * opens (alike for a missing order and someone else's, as the query), the
 * subscriber checked again for every event (revoked session, role change,
 * deactivation end the stream with a coded error), an expired access token
 * closing the socket with 4401.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import WebSocket from 'ws';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { sseSubscribe, until, wsClient, type Collected, type WsClient } from './helpers/live.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let category: CategoryRow;
let admin: Account;
let signingKey: CryptoKey;
let kid: string;
const clients: WsClient[] = [];

const ORDER_UPDATED = 'subscription ($id: ID!) { orderUpdated(id: $id) { id status } }';
const CHECKOUT = 'mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }';

function client(authorization?: string): WsClient {
  const created = wsClient(server, authorization ? { authorization } : {});
  clients.push(created);
  return created;
}

const bearer = (account: Account) => `Bearer ${account.accessToken}`;

/** A checkout by a fresh customer of a product of `seller`: a sale their mySales hears. */
async function saleOf(seller: UserRow): Promise<string> {
  const buyer = await createAccount(server);
  const product = await seeder(server.db).product({ category, seller });
  const res = await server.graphql<{ checkout: { orders: Array<{ id: string }> | null } }>(
    CHECKOUT,
    { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } },
    { headers: { ...buyer.headers, 'idempotency-key': randomUUID() } },
  );
  const id = res.body.data?.checkout.orders?.[0]?.id;
  if (!id) throw new Error(`checkout failed: ${JSON.stringify(res.body)}`);
  return id;
}

/** A change of one of `customer`'s orders, made by an admin (the customer may no longer sign in): their myOrderUpdates hears it. */
async function changeOrderOf(customer: Account): Promise<void> {
  const order = await seeder(server.db).order({ customer: customer.user, items: [{ product: await seeder(server.db).product({ category }) }] });
  const paid = await server.graphql<{ markOrderPaid: { userErrors: unknown[] } }>(
    'mutation ($input: MarkOrderPaidInput!) { markOrderPaid(input: $input) { userErrors { code } } }',
    { input: { orderId: gid('Order', order), expectedVersion: order.version } },
    { headers: { ...admin.headers, 'idempotency-key': randomUUID() } },
  );
  expect(paid.body.data?.markOrderPaid.userErrors).toEqual([]);
}

/** The account's access token re-signed to expire in `seconds` (same session, same token version). */
async function shortLivedToken(account: Account, seconds: number): Promise<string> {
  const claims = decodeJwt(account.accessToken);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ver: claims['ver'], sid: claims['sid'] })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
    .setIssuer(server.config.jwtIssuer)
    .setAudience(server.config.jwtAudience)
    .setSubject(account.user.id)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + seconds)
    .setJti(randomUUID())
    .sign(signingKey);
}

/** A raw graphql-transport-ws socket: messages received, and a way to send. */
async function rawProtocol(): Promise<{ socket: WebSocket; messages: Array<Record<string, unknown>>; closes: number[]; send: (message: object) => void }> {
  const socket = new WebSocket(`${server.baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: Array<Record<string, unknown>> = [];
  const closes: number[] = [];
  socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  socket.on('close', (code: number) => closes.push(code));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { socket, messages, closes, send: (message) => socket.send(JSON.stringify(message)) };
}

async function ordered(collected: Collected, what: string): Promise<void> {
  await until(() => collected.ended, what);
}

beforeAll(async () => {
  const jwks = await generateSigningJwks();
  const privateJwk = (JSON.parse(jwks) as { keys: Array<JWK & { kid: string }> }).keys[0] as JWK & { kid: string };
  kid = privateJwk.kid;
  signingKey = (await importJWK(privateJwk, 'EdDSA')) as CryptoKey;
  server = await startTestServer({ env: { JWT_SIGNING_KEYS: jwks, SUBSCRIPTIONS_MAX_PER_CONNECTION: '2', SUBSCRIPTIONS_MAX_PER_USER: '3', SUBSCRIPTIONS_BUFFER_EVENTS: '1', LOGIN_LIMIT_PER_IP: '100000' } });
  await until(() => server.app.live.channel.listening, 'the listener');
  category = await seeder(server.db).category();
  admin = await createAccount(server, { role: 'ADMIN' });
});

afterAll(async () => {
  await Promise.all(clients.map((created) => created.dispose()));
  await server?.close();
});

describe('subscribing to one order', () => {
  it("refuses a customer someone else's order exactly as a missing one, before any stream opens, over both transports", async () => {
    const customer = await createAccount(server);
    const stranger = await createAccount(server);
    const product = await seeder(server.db).product({ category });
    const order = await seeder(server.db).order({ customer: stranger.user, items: [{ product }] });

    // The query answers both with null: nothing tells them apart.
    const query = 'query ($id: ID!) { order(id: $id) { id } }';
    expect((await server.graphql(query, { id: gid('Order', order) }, { headers: customer.headers })).body).toMatchObject({ data: { order: null } });

    const ws = client(bearer(customer));
    const theirs = ws.subscribe(ORDER_UPDATED, { id: gid('Order', order) });
    const missing = ws.subscribe(ORDER_UPDATED, { id: missingId('Order') });
    await ordered(theirs, 'the refusal');
    await ordered(missing, 'the refusal');
    expect(theirs.failure).toEqual([{ message: expect.any(String), extensions: { code: 'SUBSCRIPTION_NOT_FOUND' } }]);
    expect(missing.failure).toEqual(theirs.failure);
    expect(theirs.results).toEqual([]);

    const sse = sseSubscribe(server, ORDER_UPDATED, { id: gid('Order', order) }, customer.headers);
    expect(await sse.status).toBe(404);
    expect((await sse.refusal)?.errors?.[0]?.extensions?.['code']).toBe('SUBSCRIPTION_NOT_FOUND');
    expect(server.app.live.streams).toBe(0);
  });

  it('refuses an anonymous subscriber and an API key without orders:read with the codes the query gets', async () => {
    const owner = await createAccount(server);
    const key = await createApiKey(server, owner, ['CATALOG_READ']);
    const anonymous = client().subscribe(ORDER_UPDATED, { id: missingId('Order') });
    const keyed = client(key.headers['authorization']).subscribe(ORDER_UPDATED, { id: missingId('Order') });
    await ordered(anonymous, 'the anonymous refusal');
    await ordered(keyed, 'the key refusal');
    expect(anonymous.errorCodes).toEqual(['UNAUTHENTICATED']);
    expect(keyed.errorCodes).toEqual(['FORBIDDEN']);
  });
});

describe('every event checks the subscriber as they are now', () => {
  it('ends the stream with UNAUTHENTICATED after the session is revoked', async () => {
    const customer = await createAccount(server);
    const updates = client(bearer(customer)).subscribe('subscription { myOrderUpdates { id } }');
    await until(() => server.app.live.streams === 1, 'the stream');
    const out = await server.graphql('mutation { logOut(input: {}) { userErrors { code } } }', {}, { headers: customer.headers });
    expect(out.body.errors).toBeUndefined();
    await changeOrderOf(customer);
    await ordered(updates, 'the end of the stream');
    expect(updates.errorCodes).toEqual(['UNAUTHENTICATED']);
    expect(updates.completed).toBe(true);
    await until(() => server.app.live.streams === 0, 'the stream to close');
  });

  it("ends a seller's mySales with a coded error once an admin makes them a customer", async () => {
    const seller = await createAccount(server, { role: 'SELLER' });
    const key = await createApiKey(server, seller, ['ORDERS_READ']);
    const sales = client(key.headers['authorization']).subscribe('subscription { mySales { id } }');
    await until(() => server.app.live.streams === 1, 'the stream');
    const demoted = await server.graphql('mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { userErrors { code } } }', { input: { userId: gid('User', seller.user), role: 'CUSTOMER' } }, { headers: admin.headers });
    expect(demoted.body.errors).toBeUndefined();
    await saleOf(seller.user);
    await ordered(sales, 'the end of the stream');
    expect(sales.results.filter((result) => result.data)).toEqual([]);
    expect(sales.errorCodes).toEqual(['FORBIDDEN']);
    await until(() => server.app.live.streams === 0, 'the stream to close');
  });

  it('ends the stream of a deactivated account', async () => {
    const customer = await createAccount(server);
    const updates = client(bearer(customer)).subscribe('subscription { myOrderUpdates { id } }');
    await until(() => server.app.live.streams === 1, 'the stream');
    const gone = await server.graphql('mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { userErrors { code } } }', { input: { userId: gid('User', customer.user) } }, { headers: admin.headers });
    expect(gone.body.errors).toBeUndefined();
    await changeOrderOf(customer);
    await ordered(updates, 'the end of the stream');
    expect(updates.errorCodes).toEqual(['UNAUTHENTICATED']);
    await until(() => server.app.live.streams === 0, 'the stream to close');
  });

  it('closes the socket with 4401 when the access token expires', async () => {
    const customer = await createAccount(server);
    const shortLived = await shortLivedToken(customer, 2);
    const ws = client(`Bearer ${shortLived}`);
    const updates = ws.subscribe('subscription { myOrderUpdates { id } }');
    await ws.connected;
    await until(() => ws.closes.includes(4401), 'the 4401 close', 10_000);
    expect(updates.ended).toBe(true);
  });

  it("keeps the socket open past the old token's expiry once a ping renews the credential, and refuses another user's", async () => {
    const customer = await createAccount(server);
    const expiresAt = Date.now() + 2_000;
    const raw = await rawProtocol();
    raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${await shortLivedToken(customer, 2)}` } });
    await until(() => raw.messages.some((message) => message['type'] === 'connection_ack'), 'the ack');
    raw.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { myOrderUpdates { id } }' } });
    await until(() => server.app.live.streams === 1, 'the stream');
    raw.send({ type: 'ping', payload: { authorization: bearer(customer) } });
    await until(() => raw.messages.some((message) => message['type'] === 'pong'), 'the pong');
    // Past the old token's expiry (plus the timer's slack), the socket is still open and events still arrive.
    await until(() => Date.now() > expiresAt + 500, "the old token's expiry", 5_000);
    const product = await seeder(server.db).product({ category });
    const res = await server.graphql(CHECKOUT, { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } }, { headers: { ...customer.headers, 'idempotency-key': randomUUID() } });
    expect(res.body.errors).toBeUndefined();
    await until(() => raw.messages.some((message) => message['type'] === 'next' && message['id'] === '1'), 'the event after the old expiry');
    expect(raw.closes).toEqual([]);

    const other = await createAccount(server);
    raw.send({ type: 'ping', payload: { authorization: bearer(other) } });
    await until(() => raw.closes.length > 0, 'the close');
    expect(raw.closes).toEqual([4403]);
  });

  it('closes a connection_init with a refused credential with 4401, and never reads the refresh cookie', async () => {
    const customer = await createAccount(server);
    const ws = wsClient(server, { authorization: 'Bearer not-a-token', headers: { cookie: `refresh_token=${customer.refreshToken}` } });
    clients.push(ws);
    await until(() => ws.closes.length > 0, 'the close');
    expect(ws.closes).toEqual([4401]);
  });
});

describe('limits', () => {
  it('refuses a subscription over the per-connection cap with SUBSCRIPTION_LIMIT_REACHED and keeps the others', async () => {
    const product = await seeder(server.db).product({ category });
    const ws = client();
    const query = 'subscription ($id: ID!) { productUpdated(id: $id) { id } }';
    const first = ws.subscribe(query, { id: gid('Product', product) });
    const second = ws.subscribe(query, { id: gid('Product', product) });
    await until(() => server.app.live.streams === 2, 'two streams');
    const third = ws.subscribe(query, { id: gid('Product', product) });
    await ordered(third, 'the refusal');
    expect(third.errorCodes).toEqual(['SUBSCRIPTION_LIMIT_REACHED']);
    expect(first.ended || second.ended).toBe(false);
    await ws.dispose();
    await until(() => server.app.live.streams === 0, 'the streams to close');
  });

  it('refuses a subscription over the per-user cap, counted over all of the user\'s connections', async () => {
    const customer = await createAccount(server);
    const [first, second] = [client(bearer(customer)), client(bearer(customer))];
    const query = 'subscription { myOrderUpdates { id } }';
    const open = [first.subscribe(query), first.subscribe(query), second.subscribe(query)];
    await until(() => server.app.live.streams === 3, 'three streams');
    const fourth = second.subscribe(query);
    await ordered(fourth, 'the refusal');
    expect(fourth.errorCodes).toEqual(['SUBSCRIPTION_LIMIT_REACHED']);
    expect(open.some((stream) => stream.ended)).toBe(false);
    await Promise.all([first.dispose(), second.dispose()]);
    await until(() => server.app.live.streams === 0, 'the streams to close');
  });

  it('drops a subscription that falls more than SUBSCRIPTIONS_BUFFER_EVENTS changes behind with SUBSCRIPTION_TOO_SLOW', async () => {
    // One checkout from two sellers commits two orders: both changes arrive at once, one more than the buffer of 1 holds.
    const customer = await createAccount(server);
    const [first, second] = [await seeder(server.db).product({ category }), await seeder(server.db).product({ category })];
    const updates = client(bearer(customer)).subscribe('subscription { myOrderUpdates { id } }');
    await until(() => server.app.live.streams === 1, 'the stream');
    const res = await server.graphql<{ checkout: { orders: Array<{ id: string }> } }>(
      CHECKOUT,
      { input: { items: [{ productId: gid('Product', first), quantity: 1 }, { productId: gid('Product', second), quantity: 1 }] } },
      { headers: { ...customer.headers, 'idempotency-key': randomUUID() } },
    );
    expect(res.body.data?.checkout.orders).toHaveLength(2);
    await ordered(updates, 'the end of the stream');
    expect(updates.results.filter((result) => result.data)).toHaveLength(1);
    expect(updates.errorCodes).toEqual(['SUBSCRIPTION_TOO_SLOW']);
    await until(() => server.app.live.streams === 0, 'the stream to close');
  });

  it('applies the query limits to subscription documents', async () => {
    // Deeper than QUERY_MAX_DEPTH (12): refused by the same rule as a query, before the field is asked anything.
    const nested = 'category { products { nodes { '.repeat(5) + 'id' + ' } } }'.repeat(5);
    const deep = `subscription ($id: ID!) { productUpdated(id: $id) { ${nested} } }`;
    const refused = client().subscribe(deep, { id: missingId('Product') });
    await ordered(refused, 'the refusal');
    expect(refused.errorCodes).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('answers a subscription sent as a plain POST with SUBSCRIPTION_NOT_SUPPORTED naming both transports', async () => {
    const res = await server.graphql('subscription { myOrderUpdates { id } }');
    expect(res.status).toBe(400);
    const [error] = res.body.errors ?? [];
    expect(error?.extensions?.['code']).toBe('SUBSCRIPTION_NOT_SUPPORTED');
    expect(error?.message).toMatch(/WebSocket to \/graphql .*\/graphql\/stream/);
  });
});
