/**
 * The inbound payment webhook over HTTP on real PostgreSQL: Standard
 * Webhooks signatures (signed here with node:crypto, and once with the
 * `standardwebhooks` package's own `sign`), the timestamp tolerance, what
 * each message does to the order and its stock, idempotency by webhook id,
 * the recorded events admins list, and the transport limits.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';

import type { OrderRow } from '../src/modules/orders/order.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { answerOf, deliver, newWebhookSecret, nowSeconds, paymentMessage, signMessage } from './helpers/payments.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let secret: string;
let customer: Account;
let admin: Account;
let product: ProductRow;

beforeAll(async () => {
  secret = newWebhookSecret();
  server = await startTestServer({ env: { PAYMENT_WEBHOOK_SECRET: secret, LOGIN_LIMIT_PER_IP: '100000' } });
  [customer, admin] = await Promise.all([createAccount(server, { role: 'CUSTOMER' }), createAccount(server, { role: 'ADMIN' })]);
  product = await seeder(server.db).product({ price: 1999, stock: 50 });
});

afterAll(async () => {
  await server.close();
});

async function pendingOrder(quantity = 1): Promise<OrderRow> {
  return seeder(server.db).order({ customer: customer.user, items: [{ product, quantity }] });
}

async function orderRow(id: string): Promise<OrderRow> {
  return server.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function stock(): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
}

async function eventsOf(webhookId: string) {
  return server.db.selectFrom('payment_events').selectAll().where('webhook_id', '=', webhookId).execute();
}

async function auditOf(orderId: string) {
  return server.db.selectFrom('audit_events').selectAll().where('target_id', '=', orderId).orderBy('occurred_at').execute();
}

function codeOf(answer: { body: { errors?: Array<{ extensions: { code: string } }> } }): string | undefined {
  return answer.body.errors?.[0]?.extensions.code;
}

describe('payment.succeeded', () => {
  it('marks the order paid, records the event as APPLIED and audits the system as the actor', async () => {
    const order = await pendingOrder();
    const id = `msg_${randomUUID()}`;
    const answer = await answerOf(await deliver(server, secret, paymentMessage(order, { paymentId: 'pay_1' }), { id }));
    expect(answer).toEqual({ status: 200, body: { received: true, webhookId: id, outcome: 'APPLIED', duplicate: false } });
    const row = await orderRow(order.id);
    expect(row.status).toBe('PAID');
    expect(row.paid_at).toBeInstanceOf(Date);
    const [event] = await eventsOf(id);
    expect(event).toMatchObject({ type: 'payment.succeeded', outcome: 'APPLIED', order_id: order.id, payment_id: 'pay_1', amount: '1999', currency: 'EUR' });
    const audit = await auditOf(order.id);
    expect(audit.map((entry) => entry.action)).toEqual(['ORDER_PAID']);
    expect(audit[0]).toMatchObject({ actor_id: null, metadata: expect.objectContaining({ actor: 'system', source: 'payment-provider', paymentId: 'pay_1' }) });
  });

  it('accepts a signature made by the standardwebhooks package, among several space-separated ones', async () => {
    const order = await pendingOrder();
    const id = `msg_${randomUUID()}`;
    const body = JSON.stringify(paymentMessage(order));
    const at = new Date();
    const signature = new Webhook(secret).sign(id, at, body);
    const stale = signMessage(newWebhookSecret(), id, nowSeconds(), body);
    const answer = await answerOf(
      await deliver(server, secret, body, { id, timestamp: Math.floor(at.getTime() / 1000), signature: `${stale} v1a,unknown ${signature}` }),
    );
    expect(answer.body.outcome).toBe('APPLIED');
  });

  it('answers a repeated webhook id 200 with the first outcome and changes nothing', async () => {
    const order = await pendingOrder();
    const id = `msg_${randomUUID()}`;
    const message = paymentMessage(order);
    expect((await answerOf(await deliver(server, secret, message, { id }))).body.outcome).toBe('APPLIED');
    const paid = await orderRow(order.id);
    const replay = await answerOf(await deliver(server, secret, message, { id }));
    expect(replay).toEqual({ status: 200, body: { received: true, webhookId: id, outcome: 'APPLIED', duplicate: true } });
    expect(await orderRow(order.id)).toEqual(paid);
    expect(await eventsOf(id)).toHaveLength(1);
    expect((await auditOf(order.id)).length).toBe(1);
  });

  it('records the same payment under a new webhook id as DUPLICATE without a second move', async () => {
    const order = await pendingOrder();
    const message = paymentMessage(order, { paymentId: `pay_${randomUUID()}` });
    expect((await answerOf(await deliver(server, secret, message))).body.outcome).toBe('APPLIED');
    const again = await answerOf(await deliver(server, secret, message));
    expect(again.body).toMatchObject({ outcome: 'DUPLICATE', duplicate: false });
    expect((await orderRow(order.id)).version).toBe(order.version + 1);
  });

  it('does not mark paid on an amount or currency mismatch, and records it for admins', async () => {
    const order = await pendingOrder(2);
    const short = await answerOf(await deliver(server, secret, paymentMessage(order, { amount: 1999 })));
    const wrongCurrency = await answerOf(await deliver(server, secret, paymentMessage(order, { currency: 'USD' })));
    expect([short.status, short.body.outcome, wrongCurrency.body.outcome]).toEqual([200, 'AMOUNT_MISMATCH', 'AMOUNT_MISMATCH']);
    expect((await orderRow(order.id)).status).toBe('PENDING_PAYMENT');

    const listed = await server.graphql<{ paymentEvents: { nodes: Array<Record<string, unknown>> } }>(
      `{ paymentEvents(first: 2, filter: { outcome: AMOUNT_MISMATCH }) { nodes { webhookId outcome amount currency detail order { id status } } } }`,
      {},
      { headers: admin.headers },
    );
    expect(listed.body.errors).toBeUndefined();
    const nodes = listed.body.data?.paymentEvents.nodes ?? [];
    expect(nodes.map((node) => node['webhookId'])).toEqual([wrongCurrency.body.webhookId, short.body.webhookId]);
    expect(nodes[1]).toMatchObject({ outcome: 'AMOUNT_MISMATCH', amount: 1999, currency: 'EUR', order: { id: gid('Order', order), status: 'PENDING_PAYMENT' } });
    expect(nodes[1]?.['detail']).toContain('3998 EUR');
  });

  it('answers 200 for an unknown order and records it as UNKNOWN_ORDER', async () => {
    const missing = { id: randomUUID(), total_amount: '100', currency: 'EUR' };
    const answer = await answerOf(await deliver(server, secret, paymentMessage(missing)));
    expect(answer.body.outcome).toBe('UNKNOWN_ORDER');
    const notAnOrder = await answerOf(await deliver(server, secret, paymentMessage(missing, { orderId: gid('Product', product) })));
    expect(notAnOrder.body.outcome).toBe('UNKNOWN_ORDER');
    const [event] = await eventsOf(answer.body.webhookId ?? '');
    expect(event).toMatchObject({ outcome: 'UNKNOWN_ORDER', order_id: null });
  });

  it('leaves a cancelled order cancelled and records ALREADY_FINAL', async () => {
    const order = await seeder(server.db).order({ customer: customer.user, items: [{ product }], status: 'CANCELLED' });
    const answer = await answerOf(await deliver(server, secret, paymentMessage(order)));
    expect(answer.body.outcome).toBe('ALREADY_FINAL');
    expect((await orderRow(order.id)).status).toBe('CANCELLED');
  });
});

describe('payment.failed', () => {
  it('cancels a pending order with reason PAYMENT_FAILED and returns its stock exactly once', async () => {
    const before = await stock();
    await server.db.updateTable('products').set({ stock: before - 3 }).where('id', '=', product.id).execute();
    const order = await pendingOrder(3);
    const id = `msg_${randomUUID()}`;
    const message = paymentMessage(order, { type: 'payment.failed' });
    expect((await answerOf(await deliver(server, secret, message, { id }))).body.outcome).toBe('APPLIED');
    expect((await answerOf(await deliver(server, secret, message, { id }))).body.duplicate).toBe(true);
    expect((await answerOf(await deliver(server, secret, message))).body.outcome).toBe('ALREADY_FINAL');
    expect((await orderRow(order.id)).status).toBe('CANCELLED');
    expect(await stock()).toBe(before);
    const audit = await auditOf(order.id);
    expect(audit.map((entry) => [entry.action, entry.metadata['reason']])).toEqual([['ORDER_CANCELLED', 'PAYMENT_FAILED']]);
  });
});

describe('refusals', () => {
  it('refuses a wrong signature, a signature over another body and missing headers with 401 and records nothing', async () => {
    const order = await pendingOrder();
    const body = JSON.stringify(paymentMessage(order));
    const id = `msg_${randomUUID()}`;
    const wrongKey = await answerOf(await deliver(server, secret, body, { id, signature: signMessage(newWebhookSecret(), id, nowSeconds(), body) }));
    const otherBody = await answerOf(
      await deliver(server, secret, body, { id, signature: signMessage(secret, id, nowSeconds(), JSON.stringify(paymentMessage(order, { amount: 1 }))) }),
    );
    const otherId = await answerOf(await deliver(server, secret, body, { id, signature: signMessage(secret, 'msg_other', nowSeconds(), body) }));
    const unsigned = await answerOf(await deliver(server, secret, body, { id, headers: { 'webhook-signature': '' } }));
    for (const answer of [wrongKey, otherBody, otherId, unsigned]) {
      expect([answer.status, codeOf(answer)]).toEqual([401, 'WEBHOOK_SIGNATURE_INVALID']);
    }
    expect(await eventsOf(id)).toHaveLength(0);
    expect((await orderRow(order.id)).status).toBe('PENDING_PAYMENT');
  });

  it('refuses a timestamp 6 minutes old or 6 minutes ahead with 401, even when correctly signed', async () => {
    const order = await pendingOrder();
    for (const offset of [-360, 360]) {
      const answer = await answerOf(await deliver(server, secret, paymentMessage(order), { timestamp: nowSeconds() + offset }));
      expect([answer.status, codeOf(answer)]).toEqual([401, 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE']);
    }
    const inside = await answerOf(await deliver(server, secret, paymentMessage(order), { timestamp: nowSeconds() - 240 }));
    expect(inside.body.outcome).toBe('APPLIED');
  });

  it('refuses a signed body that is not a payment event with 400, and records an unknown type as IGNORED', async () => {
    const order = await pendingOrder();
    const notJson = await answerOf(await deliver(server, secret, '{"type": "payment.succeeded",'));
    const noAmount = await answerOf(await deliver(server, secret, { type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { orderId: gid('Order', order), paymentId: 'p' } }));
    for (const answer of [notJson, noAmount]) expect([answer.status, codeOf(answer)]).toEqual([400, 'WEBHOOK_PAYLOAD_INVALID']);
    expect(noAmount.body.errors?.[0]?.message).toContain('data.amount');
    const other = await answerOf(await deliver(server, secret, { type: 'refund.created', timestamp: new Date().toISOString(), data: {} }));
    expect([other.status, other.body.outcome]).toEqual([200, 'IGNORED']);
    expect((await orderRow(order.id)).status).toBe('PENDING_PAYMENT');
  });

  it('refuses a body over 64 KiB with 413 and a body that is not JSON with 415', async () => {
    const order = await pendingOrder();
    const big = JSON.stringify({ ...paymentMessage(order), padding: 'x'.repeat(70_000) });
    const tooBig = await answerOf(await deliver(server, secret, big));
    expect([tooBig.status, codeOf(tooBig)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const text = await answerOf(await deliver(server, secret, 'hello', { headers: { 'content-type': 'text/plain' } }));
    expect([text.status, codeOf(text)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect((await orderRow(order.id)).status).toBe('PENDING_PAYMENT');
  });
});
