/**
 * Payments under concurrency, on real PostgreSQL: the same webhook delivered
 * ten times at once marks the order paid once; the payment expiry cancels
 * orders past the TTL once, returning stock once; and a payment racing the
 * expiry (the webhook, or an admin's markOrderPaid) leaves every order with
 * exactly one outcome and the stock consistent. The expiry is called through
 * a scope, as the job worker will call it (test/helpers/scope.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { expirePaymentsTask, expireUnpaidOrders } from '../src/modules/orders/order-expiry.service.js';
import type { OrderRow } from '../src/modules/orders/order.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { answerOf, deliver, newWebhookSecret, paymentMessage } from './helpers/payments.js';
import { createTestAuthRuntime, jobScope, testDeps } from './helpers/scope.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const TTL_MS = 30 * 60_000;

let server: TestServer;
let secret: string;
let auth: AuthRuntime;
let customer: Account;
let admin: Account;

beforeAll(async () => {
  secret = newWebhookSecret();
  server = await startTestServer({ env: { PAYMENT_WEBHOOK_SECRET: secret, LOGIN_LIMIT_PER_IP: '100000' } });
  auth = await createTestAuthRuntime();
  [customer, admin] = await Promise.all([createAccount(server, { role: 'CUSTOMER' }), createAccount(server, { role: 'ADMIN' })]);
});

afterAll(async () => {
  await auth.close();
  await server.close();
});

const scope = () => jobScope(testDeps(server.db, auth));

/** A product whose stock already gave `taken` units to the orders made below (as checkout would have). */
async function productWithStock(left: number): Promise<ProductRow> {
  return seeder(server.db).product({ price: 500, stock: left });
}

async function order(product: ProductRow, quantity: number, ageMs: number): Promise<OrderRow> {
  return seeder(server.db).order({ customer: customer.user, items: [{ product, quantity }], createdAt: new Date(Date.now() - ageMs) });
}

async function statusOf(id: string): Promise<string> {
  return (await server.db.selectFrom('orders').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
}

async function stockOf(product: ProductRow): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
}

/** The expiry one order at a time until none is left, so its moves interleave with the payments sent meanwhile. */
async function expireOneByOne(): Promise<string[]> {
  const cancelled: string[] = [];
  for (;;) {
    const result = await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS, batchSize: 1 });
    cancelled.push(...result.cancelled);
    if (!result.more) return cancelled;
  }
}

async function auditActions(orderId: string): Promise<string[]> {
  const rows = await server.db.selectFrom('audit_events').select('action').where('target_id', '=', orderId).execute();
  return rows.map((row) => row.action);
}

describe('the same webhook delivered ten times at once', () => {
  it('marks the order paid once: one APPLIED answer, nine duplicates, one event row, one audit event', async () => {
    const product = await productWithStock(10);
    const pending = await order(product, 1, 0);
    const id = `msg_${randomUUID()}`;
    const body = JSON.stringify(paymentMessage(pending));
    const answers = await Promise.all(Array.from({ length: 10 }, async () => answerOf(await deliver(server, secret, body, { id }))));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((answer) => !answer.body.duplicate).map((answer) => answer.body.outcome)).toEqual(['APPLIED']);
    expect(answers.every((answer) => answer.body.outcome === 'APPLIED')).toBe(true);
    const row = await server.db.selectFrom('orders').selectAll().where('id', '=', pending.id).executeTakeFirstOrThrow();
    expect([row.status, row.version]).toEqual(['PAID', pending.version + 1]);
    expect(await server.db.selectFrom('payment_events').select('outcome').where('webhook_id', '=', id).execute()).toEqual([{ outcome: 'APPLIED' }]);
    expect(await auditActions(pending.id)).toEqual(['ORDER_PAID']);
  });
});

describe('payment expiry', () => {
  it('cancels orders pending longer than the TTL with reason PAYMENT_EXPIRED, returns their stock once, and leaves younger ones', async () => {
    const product = await productWithStock(0);
    const old = await order(product, 2, TTL_MS + 60_000);
    const young = await order(product, 3, TTL_MS - 60_000);
    const paid = await seeder(server.db).order({ customer: customer.user, items: [{ product }], status: 'PAID', createdAt: new Date(Date.now() - 2 * TTL_MS) });

    const first = await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS });
    expect(first.cancelled).toContain(old.id);
    expect(first.cancelled).not.toContain(young.id);
    const again = await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS });
    expect(again.cancelled).not.toContain(old.id);

    expect([await statusOf(old.id), await statusOf(young.id), await statusOf(paid.id)]).toEqual(['CANCELLED', 'PENDING_PAYMENT', 'PAID']);
    expect(await stockOf(product)).toBe(2);
    const [audit] = await server.db.selectFrom('audit_events').selectAll().where('target_id', '=', old.id).execute();
    expect(audit).toMatchObject({ action: 'ORDER_CANCELLED', actor_id: null, metadata: expect.objectContaining({ actor: 'system', source: 'payment-expiry', reason: 'PAYMENT_EXPIRED' }) });

    // A later clock expires the younger one too (the `now` seam).
    const later = await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS, now: new Date(Date.now() + 2 * 60_000) });
    expect(later.cancelled).toContain(young.id);
    expect(await stockOf(product)).toBe(5);
  });

  it('works a backlog off in batches through the task, and a second run finds nothing', async () => {
    const product = await productWithStock(0);
    const orders = await Promise.all(Array.from({ length: 7 }, () => order(product, 1, TTL_MS * 2)));
    const batch = await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS, batchSize: 3 });
    expect(batch.cancelled).toHaveLength(3);
    expect(batch.more).toBe(true);
    await expirePaymentsTask(scope(), { ttlMinutes: 30, batchSize: 2 });
    expect(await Promise.all(orders.map((row) => statusOf(row.id)))).toEqual(Array(7).fill('CANCELLED'));
    expect(await stockOf(product)).toBe(7);
    expect((await expirePaymentsTask(scope(), { ttlMinutes: 30 })).cancelled).toBe(0);
    expect(await stockOf(product)).toBe(7);
  });
});

describe('a payment racing the expiry', () => {
  it('gives each order exactly one outcome, paid by the webhook or cancelled by the expiry, with the stock consistent', async () => {
    const product = await productWithStock(0);
    const orders = await Promise.all(Array.from({ length: 24 }, (_, index) => order(product, 1 + (index % 3), TTL_MS + 60_000)));
    const [webhooks, expiries] = await Promise.all([
      Promise.all(orders.map(async (row) => answerOf(await deliver(server, secret, paymentMessage(row))))),
      Promise.all([1, 2].map(() => expireOneByOne())),
    ]);
    // Whatever the expiry skipped while a payment held the row is left to its next run.
    await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS, batchSize: 100 });
    const expired = new Set(expiries.flat());
    let returned = 0;
    for (const [index, row] of orders.entries()) {
      const status = await statusOf(row.id);
      const outcome = webhooks[index]?.body.outcome;
      const quantity = 1 + (index % 3);
      if (status === 'PAID') {
        expect([outcome, expired.has(row.id), await auditActions(row.id)]).toEqual(['APPLIED', false, ['ORDER_PAID']]);
      } else {
        expect([status, outcome, await auditActions(row.id)]).toEqual(['CANCELLED', 'ALREADY_FINAL', ['ORDER_CANCELLED']]);
        returned += quantity;
      }
    }
    expect(await stockOf(product)).toBe(returned);
  });

  it('lets an admin markOrderPaid race the expiry: exactly one of them moves each order', async () => {
    const product = await productWithStock(0);
    const orders = await Promise.all(Array.from({ length: 12 }, () => order(product, 1, TTL_MS + 60_000)));
    const mark = (row: OrderRow) =>
      server.graphql<{ markOrderPaid: { order: { status: string } | null; userErrors: Array<{ code: string }> } }>(
        'mutation ($input: MarkOrderPaidInput!) { markOrderPaid(input: $input) { order { status } userErrors { code } } }',
        { input: { orderId: gid('Order', row), expectedVersion: row.version } },
        { headers: { ...admin.headers, 'idempotency-key': randomUUID() } },
      );
    const [marks] = await Promise.all([Promise.all(orders.map(mark)), expireOneByOne()]);
    await expireUnpaidOrders(scope(), { olderThanMs: TTL_MS, batchSize: 100 });
    let cancelled = 0;
    for (const [index, row] of orders.entries()) {
      const status = await statusOf(row.id);
      const payload = marks[index]?.body.data?.markOrderPaid;
      if (status === 'PAID') expect([payload?.order?.status, await auditActions(row.id)]).toEqual(['PAID', ['ORDER_PAID']]);
      else {
        expect([status, payload?.order, await auditActions(row.id)]).toEqual(['CANCELLED', null, ['ORDER_CANCELLED']]);
        expect(payload?.userErrors[0]?.code).toMatch(/^(INVALID_TRANSITION|VERSION_CONFLICT)$/);
        cancelled += 1;
      }
    }
    expect(await stockOf(product)).toBe(cancelled);
  });
});
