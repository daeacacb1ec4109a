/**
 * Checkout over HTTP on real PostgreSQL: one order per seller with snapshots
 * and exact totals, every problem of a cart at once, the Idempotency-Key
 * contract (required, replayed, reused, across instances, by hash alone),
 * and a failure after stock moved leaving nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { documentHash } from '../src/limits/trusted-documents.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let customer: Account;
let sellerA: UserRow;
let sellerB: UserRow;

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    orders { id status version total { amount currency } seller { id } customer { id }
      items { title quantity unitPrice { amount currency } subtotal { amount currency } product { id stock } } }
    userErrors { field code message availableQuantity }
  }
}`;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: { data?: { checkout?: CheckoutPayload | null } | null; errors?: Array<{ extensions?: { code?: string } }> };
}

interface CheckoutPayload {
  orders: Array<{ id: string; status: string; total: { amount: number; currency: string }; seller: { id: string }; items: Array<Record<string, unknown>> }> | null;
  userErrors: Array<{ field: string[] | null; code: string; message: string; availableQuantity: number | null }>;
}

type Line = { productId: string; quantity: number };

async function post(body: object, headers: Record<string, string>, target: TestServer = server): Promise<RawResponse> {
  const response = await target.request('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as RawResponse['json'] };
}

function checkout(items: Line[], key: string | null = randomUUID(), headers: Record<string, string> = customer.headers, target: TestServer = server) {
  return post({ query: CHECKOUT, variables: { input: { items } } }, { ...headers, ...(key === null ? {} : { 'idempotency-key': key }) }, target);
}

const line = (product: ProductRow, quantity = 1): Line => ({ productId: gid('Product', product), quantity });

async function stockOf(product: ProductRow): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
}

async function ordersOf(user: UserRow): Promise<number> {
  return (await server.db.selectFrom('orders').select('id').where('customer_id', '=', user.id).execute()).length;
}

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  customer = await createAccount(server, { role: 'CUSTOMER' });
  const seed = seeder(server.db);
  sellerA = await seed.user({ role: 'SELLER' });
  sellerB = await seed.user({ role: 'SELLER' });
});

afterAll(async () => {
  await server.close();
});

describe('checkout', () => {
  it('makes one order per seller with snapshot titles and prices, exact totals, and takes the units from stock', async () => {
    const seed = seeder(server.db);
    const lamp = await seed.product({ seller: sellerA, title: 'Desk lamp', price: 1999, stock: 5 });
    const bulb = await seed.product({ seller: sellerA, title: 'Bulb', price: 333, stock: 50 });
    const mug = await seed.product({ seller: sellerB, title: 'Mug', price: 1250, stock: 3 });

    const res = await checkout([line(lamp, 2), line(mug, 3), line(bulb, 7)]);
    expect(res.status).toBe(200);
    const payload = res.json.data?.checkout;
    expect(payload?.userErrors).toEqual([]);
    expect(payload?.orders).toHaveLength(2);
    const [first, second] = payload?.orders ?? [];
    // Sellers in the order of their first cart line.
    expect(first).toMatchObject({ status: 'PENDING_PAYMENT', seller: { id: gid('User', sellerA) }, total: { amount: 2 * 1999 + 7 * 333, currency: 'EUR' } });
    expect(second).toMatchObject({ status: 'PENDING_PAYMENT', seller: { id: gid('User', sellerB) }, total: { amount: 3 * 1250, currency: 'EUR' } });
    expect(first?.items).toEqual([
      { title: 'Bulb', quantity: 7, unitPrice: { amount: 333, currency: 'EUR' }, subtotal: { amount: 2331, currency: 'EUR' }, product: { id: gid('Product', bulb), stock: 43 } },
      { title: 'Desk lamp', quantity: 2, unitPrice: { amount: 1999, currency: 'EUR' }, subtotal: { amount: 3998, currency: 'EUR' }, product: { id: gid('Product', lamp), stock: 3 } },
    ]);
    expect(second?.items).toEqual([
      { title: 'Mug', quantity: 3, unitPrice: { amount: 1250, currency: 'EUR' }, subtotal: { amount: 3750, currency: 'EUR' }, product: { id: gid('Product', mug), stock: 0 } },
    ]);
    expect([await stockOf(lamp), await stockOf(bulb), await stockOf(mug)]).toEqual([3, 43, 0]);

    // Later edits of the product leave the order's snapshot alone.
    await server.db.updateTable('products').set({ title: 'Renamed lamp', price_amount: 9999 }).where('id', '=', lamp.id).execute();
    const read = await server.graphql<{ order: { items: Array<{ title: string; unitPrice: { amount: number } }> } }>(
      'query ($id: ID!) { order(id: $id) { items { title unitPrice { amount } } } }',
      { id: first?.id },
      { headers: customer.headers },
    );
    expect(read.body.data?.order.items.map((item) => [item.title, item.unitPrice.amount])).toEqual([['Bulb', 333], ['Desk lamp', 1999]]);
  });

  it('reports every problem of a cart at once, with paths and codes, and writes nothing', async () => {
    const seed = seeder(server.db);
    const plenty = await seed.product({ seller: sellerA, stock: 100 });
    const scarce = await seed.product({ seller: sellerA, stock: 2 });
    const soldOut = await seed.product({ seller: sellerB, stock: 0 });
    const draft = await seed.product({ seller: sellerA, status: 'DRAFT' });
    const deleted = await seed.product({ seller: sellerA, deleted: true });
    const dollars = await seed.product({ seller: sellerB, currency: 'USD', stock: 10 });
    const ownSeller = await createAccount(server, { role: 'SELLER' });
    const own = await seed.product({ seller: ownSeller.user, stock: 10 });
    const stocks = async () => Promise.all([plenty, scarce, soldOut, dollars, own].map(stockOf));
    const before = await stocks();

    const res = await checkout(
      [
        line(plenty, 0), // 0
        line(scarce, 3), // 1
        line(soldOut, 1), // 2
        { productId: missingId('Product'), quantity: 1 }, // 3
        { productId: gid('Category', { id: randomUUID() }), quantity: 1 }, // 4
        line(draft, 1), // 5
        line(deleted, 1), // 6
        line(dollars, 1), // 7
        line(plenty, 101), // 8
        line(own, 1), // 9
      ],
      randomUUID(),
      ownSeller.headers,
    );
    expect(res.status).toBe(200);
    const payload = res.json.data?.checkout;
    expect(payload?.orders).toBeNull();
    const errors = (payload?.userErrors ?? []).map((e) => ({ field: e.field?.join('.'), code: e.code, availableQuantity: e.availableQuantity }));
    expect(errors).toEqual([
      { field: 'input.items.0.quantity', code: 'OUT_OF_RANGE', availableQuantity: null },
      { field: 'input.items.1.quantity', code: 'OUT_OF_STOCK', availableQuantity: 2 },
      { field: 'input.items.2.quantity', code: 'OUT_OF_STOCK', availableQuantity: 0 },
      { field: 'input.items.3.productId', code: 'NOT_FOUND', availableQuantity: null },
      { field: 'input.items.4.productId', code: 'NOT_FOUND', availableQuantity: null },
      { field: 'input.items.5.productId', code: 'NOT_FOUND', availableQuantity: null },
      { field: 'input.items.6.productId', code: 'NOT_FOUND', availableQuantity: null },
      // Line 7 is the only line that could be bought: alone, its currency is the cart's, so it has no problem.
      { field: 'input.items.8.productId', code: 'INVALID', availableQuantity: null },
      { field: 'input.items.8.quantity', code: 'OUT_OF_RANGE', availableQuantity: null },
      { field: 'input.items.9.productId', code: 'INVALID', availableQuantity: null },
    ]);
    for (const error of payload?.userErrors ?? []) expect(error.message.length).toBeGreaterThan(5);
    expect(await stocks()).toEqual(before);
    expect(await ordersOf(ownSeller.user)).toBe(0);
  });

  it('refuses a cart priced in several currencies, naming the odd lines', async () => {
    const seed = seeder(server.db);
    const euros = await seed.product({ seller: sellerA, currency: 'EUR' });
    const dollars = await seed.product({ seller: sellerB, currency: 'USD' });
    const res = await checkout([line(euros), line(dollars)]);
    expect(res.json.data?.checkout).toEqual({
      orders: null,
      userErrors: [{ field: ['input', 'items', '1', 'productId'], code: 'INVALID', message: expect.stringContaining('USD'), availableQuantity: null }],
    });
    expect(await stockOf(euros)).toBe(euros.stock);
  });

  it('refuses an empty cart (REQUIRED) and one over 50 lines (TOO_LONG)', async () => {
    const empty = await checkout([]);
    expect(empty.json.data?.checkout?.userErrors.map((e) => [e.field, e.code])).toEqual([[['input', 'items'], 'REQUIRED']]);
    const product = await seeder(server.db).product({ seller: sellerA });
    const many = await checkout(Array.from({ length: 51 }, () => line(product)));
    const codes = many.json.data?.checkout?.userErrors.map((e) => [e.field?.join('.'), e.code]);
    expect(codes?.[0]).toEqual(['input.items', 'TOO_LONG']);
    expect(await stockOf(product)).toBe(product.stock);
  });

  it('answers a malformed id or a NUL byte in an id with BAD_USER_INPUT before anything runs', async () => {
    for (const productId of ['not an id', 'UHJvZHVjdDo\u0000']) {
      const res = await checkout([{ productId, quantity: 1 }]);
      expect({ status: res.status, code: res.json.errors?.[0]?.extensions?.code }).toEqual({ status: 400, code: 'BAD_USER_INPUT' });
    }
  });
});

describe('checkout and its Idempotency-Key', () => {
  it('requires a key (400 IDEMPOTENCY_KEY_REQUIRED) and runs nothing without one', async () => {
    const product = await seeder(server.db).product({ seller: sellerA, stock: 4 });
    const res = await checkout([line(product)], null);
    expect({ status: res.status, code: res.json.errors?.[0]?.extensions?.code }).toEqual({ status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' });
    expect(await stockOf(product)).toBe(4);
  });

  it('answers an anonymous checkout without a key UNAUTHENTICATED: it could never run', async () => {
    const product = await seeder(server.db).product({ seller: sellerA });
    const res = await checkout([line(product)], null, {});
    expect({ status: res.status, code: res.json.errors?.[0]?.extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('replays a repeat byte for byte without buying again, and answers 422 to the same key with another cart', async () => {
    const product = await seeder(server.db).product({ seller: sellerA, stock: 10 });
    const key = randomUUID();
    const first = await checkout([line(product, 2)], key);
    const again = await checkout([line(product, 2)], key);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await stockOf(product)).toBe(8);
    const other = await checkout([line(product, 3)], key);
    expect({ status: other.status, code: other.json.errors?.[0]?.extensions?.code }).toEqual({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await stockOf(product)).toBe(8);
  });

  it('replays a checkout on a second server instance over the same database', async () => {
    const second = await startTestServer({ shareDatabaseOf: server });
    try {
      const product = await seeder(server.db).product({ seller: sellerA, stock: 10 });
      const key = randomUUID();
      const first = await checkout([line(product)], key);
      const replay = await checkout([line(product)], key, customer.headers, second);
      expect(replay.text).toBe(first.text);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await stockOf(product)).toBe(9);
    } finally {
      await second.close();
    }
  });

  it('applies the key to a mutation sent by persisted-query hash alone: required, then replayed', async () => {
    const product = await seeder(server.db).product({ seller: sellerA, stock: 10 });
    const extensions = { persistedQuery: { version: 1, sha256Hash: documentHash(CHECKOUT) } };
    const variables = { input: { items: [line(product)] } };
    const key = randomUUID();
    // Registers the document (text and hash) and runs it.
    const first = await post({ query: CHECKOUT, variables, extensions }, { ...customer.headers, 'idempotency-key': key });
    expect(first.json.data?.checkout?.userErrors).toEqual([]);
    // By hash alone: the same request, replayed.
    const byHash = await post({ variables, extensions }, { ...customer.headers, 'idempotency-key': key });
    expect(byHash.text).toBe(first.text);
    expect(byHash.headers.get('idempotent-replayed')).toBe('true');
    // By hash alone without a key: refused before it runs.
    const keyless = await post({ variables, extensions }, customer.headers);
    expect({ status: keyless.status, code: keyless.json.errors?.[0]?.extensions?.code }).toEqual({ status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' });
    // By hash alone with a fresh key: a new purchase.
    const fresh = await post({ variables, extensions }, { ...customer.headers, 'idempotency-key': randomUUID() });
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(fresh.json.data?.checkout?.userErrors).toEqual([]);
    expect(await stockOf(product)).toBe(8);
  });

  it('leaves stock and orders as they were, and stores no key, when the last order fails after stock was taken', async () => {
    const seed = seeder(server.db);
    const buyer = await createAccount(server, { role: 'CUSTOMER' });
    const failingSeller = await seed.user({ role: 'SELLER' });
    const first = await seed.product({ seller: sellerA, stock: 5 });
    const last = await seed.product({ seller: failingSeller, stock: 5 });
    // Test-only constraint: the order of this seller violates it, after the stock update has run.
    await sql`ALTER TABLE orders ADD CONSTRAINT test_refuse_seller CHECK (seller_id <> ${sql.lit(failingSeller.id)}::uuid)`.execute(server.db);
    const key = randomUUID();
    try {
      const res = await checkout([line(first, 2), line(last, 1)], key, buyer.headers);
      expect({ status: res.status, code: res.json.errors?.[0]?.extensions?.code }).toEqual({ status: 500, code: 'INTERNAL_SERVER_ERROR' });
      expect([await stockOf(first), await stockOf(last)]).toEqual([5, 5]);
      expect(await ordersOf(buyer.user)).toBe(0);
      expect(await server.db.selectFrom('idempotency_keys').select('key').where('key', '=', key).execute()).toEqual([]);
    } finally {
      await sql`ALTER TABLE orders DROP CONSTRAINT test_refuse_seller`.execute(server.db);
    }
    // The key is free: the retry runs.
    const retry = await checkout([line(first, 2), line(last, 1)], key, buyer.headers);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.json.data?.checkout?.orders).toHaveLength(2);
    expect([await stockOf(first), await stockOf(last)]).toEqual([3, 4]);
  });
});

describe('checkout with API keys', () => {
  it('runs with an ORDERS_WRITE key and is FORBIDDEN to a key without it', async () => {
    const product = await seeder(server.db).product({ seller: sellerA, stock: 10 });
    const writer = await createApiKey(server, customer, ['ORDERS_WRITE']);
    const reader = await createApiKey(server, customer, ['ORDERS_READ', 'CATALOG_READ']);
    const ok = await checkout([line(product)], randomUUID(), writer.headers);
    expect(ok.json.data?.checkout?.userErrors).toEqual([]);
    const refused = await checkout([line(product)], randomUUID(), reader.headers);
    expect(refused.json.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await stockOf(product)).toBe(9);
  });
});
