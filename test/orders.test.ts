/**
 * Orders over HTTP on real PostgreSQL: the state machine transition by
 * transition (every legal move, every illegal one, every wrong actor,
 * stale versions), the stock policy of cancellations and refunds, audit
 * events, and the reads (viewer.orders, viewer.sales, order) with filters,
 * pagination and a constant number of statements.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { OrderRow, OrderStatus } from '../src/modules/orders/order.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type LogLine, type TestServer } from './helpers/server.js';

type Data = Record<string, unknown>;

let server: TestServer;
let customer: Account;
let seller: Account;
let admin: Account;
let stranger: Account;

const STATUSES: OrderStatus[] = ['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED'];

type Actor = 'customer' | 'seller' | 'admin' | 'stranger';

const TRANSITIONS = {
  cancelOrder: { actor: 'customer', from: ['PENDING_PAYMENT'], to: 'CANCELLED', stamp: 'cancelledAt', input: 'CancelOrderInput' },
  markOrderPaid: { actor: 'admin', from: ['PENDING_PAYMENT'], to: 'PAID', stamp: 'paidAt', input: 'MarkOrderPaidInput' },
  shipOrder: { actor: 'seller', from: ['PAID'], to: 'SHIPPED', stamp: 'shippedAt', input: 'ShipOrderInput' },
  deliverOrder: { actor: 'seller', from: ['SHIPPED'], to: 'DELIVERED', stamp: 'deliveredAt', input: 'DeliverOrderInput' },
  refundOrder: { actor: 'admin', from: ['PAID', 'SHIPPED', 'DELIVERED'], to: 'REFUNDED', stamp: 'refundedAt', input: 'RefundOrderInput' },
} as const;
type MutationName = keyof typeof TRANSITIONS;

interface TransitionPayload {
  order: { id: string; status: string; version: number; [stamp: string]: unknown } | null;
  userErrors: Array<{ field: string[] | null; code: string; message: string; currentVersion: number | null }>;
}

function document(name: MutationName): string {
  const { input, stamp } = TRANSITIONS[name];
  return `mutation ($input: ${input}!) { ${name}(input: $input) { order { id status version ${stamp} updatedAt } userErrors { field code message currentVersion } } }`;
}

function accountOf(actor: Actor): Account {
  return { customer, seller, admin, stranger }[actor];
}

async function transition(name: MutationName, orderId: string, expectedVersion: number, actor: Actor | Account): Promise<GraphQLResult<Data>> {
  const account = typeof actor === 'string' ? accountOf(actor) : actor;
  return server.graphql<Data>(document(name), { input: { orderId, expectedVersion } }, { headers: { ...account.headers, 'idempotency-key': randomUUID() } });
}

function payloadOf(res: GraphQLResult<Data>, name: MutationName): TransitionPayload | null {
  return (res.body.data?.[name] as TransitionPayload | undefined) ?? null;
}

let product: ProductRow;

async function orderIn(status: OrderStatus, quantity = 1, of: ProductRow = product): Promise<OrderRow> {
  return seeder(server.db).order({ customer: customer.user, items: [{ product: of, quantity }], status });
}

async function orderRow(id: string) {
  return server.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function stockOf(row: ProductRow): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', row.id).executeTakeFirstOrThrow()).stock;
}

beforeAll(async () => {
  server = await startTestServer({ captureLogs: true, env: { LOGIN_LIMIT_PER_IP: '100000' } });
  [customer, seller, admin, stranger] = await Promise.all([
    createAccount(server, { role: 'CUSTOMER' }),
    createAccount(server, { role: 'SELLER' }),
    createAccount(server, { role: 'ADMIN' }),
    createAccount(server, { role: 'CUSTOMER' }),
  ]);
  product = await seeder(server.db).product({ seller: seller.user, stock: 100, price: 1500 });
});

afterAll(async () => {
  await server.close();
});

describe('the order state machine', () => {
  for (const [name, spec] of Object.entries(TRANSITIONS) as Array<[MutationName, (typeof TRANSITIONS)[MutationName]]>) {
    describe(name, () => {
      for (const status of STATUSES) {
        const legal = (spec.from as readonly OrderStatus[]).includes(status);
        it(
          legal
            ? `moves a ${status} order to ${spec.to} for its ${spec.actor}, stamping ${spec.stamp} and bumping the version`
            : `refuses a ${status} order with INVALID_TRANSITION naming the status, changing nothing`,
          async () => {
            const order = await orderIn(status);
            const res = await transition(name, gid('Order', order), 1, spec.actor);
            expect(res.body.errors).toBeUndefined();
            const payload = payloadOf(res, name);
            if (legal) {
              expect(payload?.userErrors).toEqual([]);
              expect(payload?.order).toMatchObject({ id: gid('Order', order), status: spec.to, version: 2, [spec.stamp]: expect.any(String) });
              const row = await orderRow(order.id);
              expect({ status: row.status, version: row.version }).toEqual({ status: spec.to, version: 2 });
            } else {
              expect(payload).toEqual({
                order: null,
                userErrors: [{ field: null, code: 'INVALID_TRANSITION', message: expect.stringContaining(status), currentVersion: null }],
              });
              expect(await orderRow(order.id)).toEqual(order);
            }
          },
        );
      }

      const wrongActors = (['customer', 'seller', 'admin', 'stranger'] as const).filter((actor) => actor !== spec.actor);
      for (const actor of wrongActors) {
        // Who may not see the order hears of it exactly as of a missing one; a party who may see it is FORBIDDEN.
        const expected = actor === 'stranger' ? 'NOT_FOUND' : 'FORBIDDEN';
        it(`refuses the order's ${actor} (${expected}) and changes nothing`, async () => {
          const order = await orderIn(spec.from[0]);
          const res = await transition(name, gid('Order', order), 1, actor);
          if (expected === 'NOT_FOUND' && spec.actor !== 'admin') {
            const missing = await transition(name, missingId('Order'), 1, actor);
            expect(res.body).toEqual({ ...missing.body, extensions: expect.anything() });
            expect(payloadOf(res, name)).toEqual({ order: null, userErrors: [{ field: ['input', 'orderId'], code: 'NOT_FOUND', message: 'No such order.', currentVersion: null }] });
          } else {
            expect(res.body.data).toBeNull();
            expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
          }
          expect(await orderRow(order.id)).toEqual(order);
        });
      }

      it('refuses a stale expectedVersion with VERSION_CONFLICT carrying the current version', async () => {
        const order = await orderIn(spec.from[0]);
        const res = await transition(name, gid('Order', order), 3, spec.actor);
        expect(payloadOf(res, name)).toEqual({
          order: null,
          userErrors: [{ field: ['input', 'expectedVersion'], code: 'VERSION_CONFLICT', message: expect.any(String), currentVersion: 1 }],
        });
        expect(await orderRow(order.id)).toEqual(order);
      });

      it('reports an id of another type and an out-of-range version together', async () => {
        const res = await transition(name, gid('Product', product), 0, spec.actor);
        expect(payloadOf(res, name)).toEqual({
          order: null,
          userErrors: [
            { field: ['input', 'orderId'], code: 'NOT_FOUND', message: expect.any(String), currentVersion: null },
            { field: ['input', 'expectedVersion'], code: 'OUT_OF_RANGE', message: expect.any(String), currentVersion: null },
          ],
        });
      });
    });
  }

  it('walks an order from checkout to delivery, each version in turn, and lets only one of two concurrent moves win', async () => {
    const order = await orderIn('PENDING_PAYMENT');
    const id = gid('Order', order);
    expect(payloadOf(await transition('markOrderPaid', id, 1, 'admin'), 'markOrderPaid')?.order?.status).toBe('PAID');
    const [a, b] = await Promise.all([transition('shipOrder', id, 2, 'seller'), transition('shipOrder', id, 2, 'seller')]);
    const codes = [payloadOf(a, 'shipOrder'), payloadOf(b, 'shipOrder')].map((p) => p?.userErrors[0]?.code ?? p?.order?.status);
    expect(codes.sort()).toEqual(['SHIPPED', 'VERSION_CONFLICT']);
    expect(payloadOf(await transition('deliverOrder', id, 3, 'seller'), 'deliverOrder')?.order).toMatchObject({ status: 'DELIVERED', version: 4 });
    const row = await orderRow(order.id);
    expect([row.paid_at, row.shipped_at, row.delivered_at].every((at) => at instanceof Date)).toBe(true);
    expect([row.cancelled_at, row.refunded_at]).toEqual([null, null]);
  });
});

describe('stock and audit on cancel and refund', () => {
  it('puts the units of a cancelled order back on sale and audits ORDER_CANCELLED', async () => {
    const item = await seeder(server.db).product({ seller: seller.user, stock: 7 });
    const order = await orderIn('PENDING_PAYMENT', 3, item);
    const res = await transition('cancelOrder', gid('Order', order), 1, 'customer');
    expect(payloadOf(res, 'cancelOrder')?.order?.status).toBe('CANCELLED');
    expect(await stockOf(item)).toBe(10);
    const events = await server.db.selectFrom('audit_events').select(['action', 'actor_id', 'metadata']).where('target_id', '=', order.id).execute();
    expect(events).toEqual([{ action: 'ORDER_CANCELLED', actor_id: customer.user.id, metadata: { from: 'PENDING_PAYMENT', to: 'CANCELLED', version: 2 } }]);
  });

  it('returns stock on a refund of a PAID order only; a SHIPPED or DELIVERED refund leaves stock alone; both audited', async () => {
    const item = await seeder(server.db).product({ seller: seller.user, stock: 5 });
    const paid = await orderIn('PAID', 2, item);
    const shipped = await orderIn('SHIPPED', 1, item);
    const delivered = await orderIn('DELIVERED', 1, item);
    await transition('refundOrder', gid('Order', paid), 1, 'admin');
    expect(await stockOf(item)).toBe(7);
    await transition('refundOrder', gid('Order', shipped), 1, 'admin');
    await transition('refundOrder', gid('Order', delivered), 1, 'admin');
    expect(await stockOf(item)).toBe(7);
    const events = await server.db.selectFrom('audit_events').select('action').where('target_id', 'in', [paid.id, shipped.id, delivered.id]).execute();
    expect(events.map((e) => e.action)).toEqual(['ORDER_REFUNDED', 'ORDER_REFUNDED', 'ORDER_REFUNDED']);
  });

  it('audits ORDER_PAID with the admin as actor', async () => {
    const order = await orderIn('PENDING_PAYMENT');
    await transition('markOrderPaid', gid('Order', order), 1, 'admin');
    const events = await server.db.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', order.id).execute();
    expect(events).toEqual([{ action: 'ORDER_PAID', actor_id: admin.user.id }]);
  });

  it('requires an Idempotency-Key on markOrderPaid and refundOrder', async () => {
    const order = await orderIn('PENDING_PAYMENT');
    for (const name of ['markOrderPaid', 'refundOrder'] as const) {
      const res = await server.graphql<Data>(document(name), { input: { orderId: gid('Order', order), expectedVersion: 1 } }, { headers: admin.headers });
      expect({ status: res.status, code: res.body.errors?.[0]?.extensions?.['code'] }).toEqual({ status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' });
    }
    expect(await orderRow(order.id)).toEqual(order);
  });

  it("refuses an admin's API key on markOrderPaid and refundOrder, whatever its scopes", async () => {
    const key = await createApiKey(server, admin, ['ORDERS_READ', 'ORDERS_WRITE']);
    const order = await orderIn('PENDING_PAYMENT');
    const res = await server.graphql<Data>(document('markOrderPaid'), { input: { orderId: gid('Order', order), expectedVersion: 1 } }, {
      headers: { ...key.headers, 'idempotency-key': randomUUID() },
    });
    expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    expect(await orderRow(order.id)).toEqual(order);
  });
});

describe('reading orders', () => {
  const LIST = `query ($filter: OrderFilter, $first: Int, $after: String) {
    viewer { orders(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id status } } }
  }`;

  let buyer: Account;
  let sold: ProductRow;
  let placed: OrderRow[];

  beforeAll(async () => {
    buyer = await createAccount(server, { role: 'CUSTOMER' });
    const seed = seeder(server.db);
    sold = await seed.product({ seller: seller.user, title: 'Listed', stock: 50 });
    const base = Date.parse('2026-03-01T10:00:00Z');
    placed = [];
    for (const [i, status] of (['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const).entries()) {
      placed.push(await seed.order({ customer: buyer.user, items: [{ product: sold, quantity: i + 1 }], status, createdAt: new Date(base + i * 86_400_000) }));
    }
  });

  type ListData = { viewer: { orders: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; nodes: Array<{ id: string; status: string }> } } };

  it("lists the viewer's orders newest first, page by page with cursors", async () => {
    const first = await server.graphql<ListData>(LIST, { first: 3 }, { headers: buyer.headers });
    expect(first.body.errors).toBeUndefined();
    const page = first.body.data?.viewer.orders;
    expect(page?.totalCount).toBe(5);
    expect(page?.nodes.map((n) => n.status)).toEqual(['CANCELLED', 'DELIVERED', 'SHIPPED']);
    expect(page?.pageInfo.hasNextPage).toBe(true);
    const second = await server.graphql<ListData>(LIST, { first: 3, after: page?.pageInfo.endCursor }, { headers: buyer.headers });
    expect(second.body.data?.viewer.orders.nodes.map((n) => n.status)).toEqual(['PAID', 'PENDING_PAYMENT']);
    expect(second.body.data?.viewer.orders.pageInfo.hasNextPage).toBe(false);
  });

  it('filters by status and by placement date', async () => {
    const byStatus = await server.graphql<ListData>(LIST, { filter: { statuses: ['PAID', 'SHIPPED'] } }, { headers: buyer.headers });
    expect(byStatus.body.data?.viewer.orders.nodes.map((n) => n.status)).toEqual(['SHIPPED', 'PAID']);
    const byDate = await server.graphql<ListData>(
      LIST,
      { filter: { createdAfter: '2026-03-02T00:00:00Z', createdBefore: '2026-03-04T10:00:00Z' } },
      { headers: buyer.headers },
    );
    expect(byDate.body.data?.viewer.orders.nodes.map((n) => n.status)).toEqual(['SHIPPED', 'PAID']);
    expect(byDate.body.data?.viewer.orders.totalCount).toBe(2);
  });

  it('answers a bad filter or page size with BAD_USER_INPUT naming the argument', async () => {
    const cases: Array<[Data, string]> = [
      [{ filter: { statuses: [] } }, 'filter.statuses'],
      [{ filter: { createdAfter: '2026-03-05T00:00:00Z', createdBefore: '2026-03-01T00:00:00Z' } }, 'filter.createdBefore'],
      [{ first: 101 }, 'first'],
    ];
    for (const [variables, argument] of cases) {
      const res = await server.graphql<Data>(LIST, variables, { headers: buyer.headers });
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(res.body.errors?.[0]?.message).toContain(argument);
    }
  });

  it("lists a seller's sales with their customers, and nobody else's", async () => {
    const res = await server.graphql<{ viewer: { sales: { nodes: Array<{ id: string; customer: { id: string } }> } } }>(
      '{ viewer { sales(first: 100, filter: { createdBefore: "2026-04-01T00:00:00Z" }) { nodes { id customer { id } } } } }',
      {},
      { headers: seller.headers },
    );
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data?.viewer.sales.nodes ?? [];
    expect(nodes.map((n) => n.id).sort()).toEqual(placed.map((o) => gid('Order', o)).sort());
    expect(new Set(nodes.map((n) => n.customer.id))).toEqual(new Set([gid('User', buyer.user)]));
    const buyersSales = await server.graphql<Data>('{ viewer { sales { totalCount } } }', {}, { headers: buyer.headers });
    expect(buyersSales.body.data).toEqual({ viewer: { sales: { totalCount: 0 } } });
  });

  it('keeps showing the snapshot of a product soft-deleted since, with product null', async () => {
    const gone = await seeder(server.db).product({ seller: seller.user, title: 'Discontinued kettle', price: 4200 });
    const order = await seeder(server.db).order({ customer: buyer.user, items: [{ product: gone, quantity: 2 }], status: 'DELIVERED' });
    await server.db.updateTable('products').set({ deleted_at: new Date() }).where('id', '=', gone.id).execute();
    const res = await server.graphql<Data>(
      'query ($id: ID!) { order(id: $id) { total { amount currency } items { title quantity unitPrice { amount } subtotal { amount } product { id } } } }',
      { id: gid('Order', order) },
      { headers: buyer.headers },
    );
    expect(res.body).toEqual(
      expect.objectContaining({
        data: {
          order: {
            total: { amount: 8400, currency: 'EUR' },
            items: [{ title: 'Discontinued kettle', quantity: 2, unitPrice: { amount: 4200 }, subtotal: { amount: 8400 }, product: null }],
          },
        },
      }),
    );
  });

  it('reads 20 orders with items, products and sellers in as many statements as 2 orders', async () => {
    const many = await createAccount(server, { role: 'CUSTOMER' });
    const few = await createAccount(server, { role: 'CUSTOMER' });
    const seed = seeder(server.db);
    const sellers = await Promise.all([1, 2, 3].map(() => seed.user({ role: 'SELLER' })));
    const products = await Promise.all(sellers.flatMap((s) => [seed.product({ seller: s }), seed.product({ seller: s })]));
    for (let i = 0; i < 20; i += 1) {
      const a = products[(2 * i) % products.length] as ProductRow;
      const sibling = products.find((p) => p.seller_id === a.seller_id && p.id !== a.id) as ProductRow;
      await seed.order({ customer: many.user, items: [{ product: a, quantity: 1 }, { product: sibling, quantity: 2 }] });
      if (i < 2) await seed.order({ customer: few.user, items: [{ product: a, quantity: 1 }, { product: sibling, quantity: 2 }] });
    }
    const DEEP = `{ viewer { orders(first: 20) { nodes { id status total { amount } seller { displayName }
      items { title quantity product { title price { amount } seller { displayName } } } } } } }`;
    const requestLine = (id: string | null): LogLine => {
      const lines = server.logs.filter((l) => l['requestId'] === id && l.msg === 'request completed');
      expect(lines).toHaveLength(1);
      return lines[0] as LogLine;
    };
    const large = await server.graphql<{ viewer: { orders: { nodes: unknown[] } } }>(DEEP, {}, { headers: many.headers });
    const small = await server.graphql<{ viewer: { orders: { nodes: unknown[] } } }>(DEEP, {}, { headers: few.headers });
    expect(large.body.errors).toBeUndefined();
    expect(large.body.data?.viewer.orders.nodes).toHaveLength(20);
    expect(small.body.data?.viewer.orders.nodes).toHaveLength(2);
    const largeCount = requestLine(large.headers.get('x-request-id'))['sqlCount'];
    expect(largeCount).toBe(requestLine(small.headers.get('x-request-id'))['sqlCount']);
    // authentication (session + user) + page + items + products + sellers
    expect(largeCount).toBeLessThanOrEqual(6);
  });
});
