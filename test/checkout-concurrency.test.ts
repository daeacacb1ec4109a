/**
 * Checkout under concurrency, over HTTP on real PostgreSQL: many buyers at
 * once never oversell and never see a deadlock, and many retries of one
 * request with one key buy exactly once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let buyers: Account[];

const CHECKOUT = `mutation ($input: CheckoutInput!) {
  checkout(input: $input) { orders { id items { quantity } } userErrors { field code availableQuantity } }
}`;

interface Outcome {
  status: number;
  text: string;
  replayed: boolean;
  body: {
    data?: { checkout: { orders: Array<{ id: string }> | null; userErrors: Array<{ field: string[]; code: string; availableQuantity: number | null }> } } | null;
    errors?: Array<{ extensions?: { code?: string } }>;
  };
}

async function checkout(buyer: Account, items: Array<{ product: ProductRow; quantity: number }>, key = randomUUID()): Promise<Outcome> {
  const response = await server.request('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'idempotency-key': key, ...buyer.headers },
    body: JSON.stringify({ query: CHECKOUT, variables: { input: { items: items.map((i) => ({ productId: gid('Product', i.product), quantity: i.quantity })) } } }),
  });
  const text = await response.text();
  return { status: response.status, text, replayed: response.headers.get('idempotent-replayed') === 'true', body: JSON.parse(text) as Outcome['body'] };
}

async function stockOf(product: ProductRow): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
}

async function unitsSold(products: ProductRow[]): Promise<{ items: number; units: number }> {
  const rows = await server.db.selectFrom('order_items').select('quantity').where('product_id', 'in', products.map((p) => p.id)).execute();
  return { items: rows.length, units: rows.reduce((sum, row) => sum + row.quantity, 0) };
}

function shuffled<T>(values: readonly T[], seed: number): T[] {
  const copy = [...values];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  buyers = [];
  for (let i = 0; i < 10; i += 1) buyers.push(await createAccount(server, { role: 'CUSTOMER' }));
});

afterAll(async () => {
  await server.close();
});

function buyer(i: number): Account {
  const found = buyers[i % buyers.length];
  if (!found) throw new Error('no buyers');
  return found;
}

describe('concurrent checkouts', () => {
  it('sells exactly 10 of 100 one-unit checkouts against stock 10; the other 90 get OUT_OF_STOCK', async () => {
    const product = await seeder(server.db).product({ stock: 10 });
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => checkout(buyer(i), [{ product, quantity: 1 }])));

    expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 100 }, () => 200));
    const sold = outcomes.filter((o) => o.body.data?.checkout.orders?.length === 1);
    const refused = outcomes.filter((o) => o.body.data?.checkout.userErrors[0]?.code === 'OUT_OF_STOCK');
    expect({ sold: sold.length, refused: refused.length }).toEqual({ sold: 10, refused: 90 });
    for (const o of refused) {
      expect(o.body.data?.checkout).toEqual({
        orders: null,
        userErrors: [{ field: ['input', 'items', '0', 'quantity'], code: 'OUT_OF_STOCK', availableQuantity: 0 }],
      });
    }
    expect(await stockOf(product)).toBe(0);
    expect(await unitsSold([product])).toEqual({ items: 10, units: 10 });
  });

  it('never oversells or deadlocks with carts of several products listed in different orders', async () => {
    const seed = seeder(server.db);
    const products = [await seed.product({ stock: 10 }), await seed.product({ stock: 10 }), await seed.product({ stock: 10 })];
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => checkout(buyer(i), shuffled(products, i + 1).map((product) => ({ product, quantity: 1 })))),
    );

    // Nothing but answers: no deadlock, serialization failure or any server error reaches a client.
    expect(outcomes.filter((o) => o.status !== 200 || o.body.errors !== undefined)).toEqual([]);
    const sold = outcomes.filter((o) => (o.body.data?.checkout.orders?.length ?? 0) > 0);
    expect(sold).toHaveLength(10);
    for (const o of outcomes.filter((x) => !sold.includes(x))) {
      const errors = o.body.data?.checkout.userErrors ?? [];
      expect(errors.length).toBe(3);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['OUT_OF_STOCK']));
    }
    expect(await Promise.all(products.map(stockOf))).toEqual([0, 0, 0]);
    expect(await unitsSold(products)).toEqual({ items: 30, units: 30 });
  });

  it('buys once for 30 concurrent identical checkouts with one key: every answer is the original, replayed, or 409', async () => {
    const product = await seeder(server.db).product({ stock: 50 });
    const key = randomUUID();
    const customer = buyer(0);
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => checkout(customer, [{ product, quantity: 2 }], key)));

    const originals = outcomes.filter((o) => o.status === 200 && !o.replayed);
    const replays = outcomes.filter((o) => o.status === 200 && o.replayed);
    const inProgress = outcomes.filter((o) => o.status === 409);
    expect(originals).toHaveLength(1);
    expect(originals.length + replays.length + inProgress.length).toBe(30);
    const original = originals[0];
    for (const replay of replays) expect(replay.text).toBe(original?.text);
    for (const busy of inProgress) expect(busy.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    expect(await stockOf(product)).toBe(48);
    expect(await unitsSold([product])).toEqual({ items: 1, units: 2 });

    // Afterwards: the same key replays; with another cart it is 422.
    const again = await checkout(customer, [{ product, quantity: 2 }], key);
    expect({ replayed: again.replayed, same: again.text === original?.text }).toEqual({ replayed: true, same: true });
    const reused = await checkout(customer, [{ product, quantity: 1 }], key);
    expect({ status: reused.status, code: reused.body.errors?.[0]?.extensions?.code }).toEqual({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await stockOf(product)).toBe(48);
  });
});
