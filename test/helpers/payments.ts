/**
 * A payment provider in tests: signs messages the Standard Webhooks way with
 * node:crypto (independently of the `standardwebhooks` package the server
 * verifies with) and POSTs them to /webhooks/payments.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';

import { toGlobalId } from '../../src/graphql/global-id.js';
import type { OrderRow } from '../../src/modules/orders/order.table.js';
import type { TestServer } from './server.js';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret's key bytes. */
export function signMessage(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export interface Delivery {
  /** Default: a new `msg_...` id. */
  id?: string;
  /** Default: now. */
  timestamp?: number;
  /** Default: the right signature for this id, timestamp and body. */
  signature?: string;
  headers?: Record<string, string>;
}

/** POSTs `body` (an object is JSON-encoded) signed with `secret`. */
export async function deliver(server: TestServer, secret: string, body: object | string, delivery: Delivery = {}): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = delivery.id ?? `msg_${randomUUID()}`;
  const timestamp = delivery.timestamp ?? nowSeconds();
  return server.request('/webhooks/payments', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': delivery.signature ?? signMessage(secret, id, timestamp, text),
      ...delivery.headers,
    },
    body: text,
  });
}

/** A `payment.succeeded` (or another type) for the order, for its exact total unless told otherwise. */
export function paymentMessage(
  order: Pick<OrderRow, 'id' | 'total_amount' | 'currency'>,
  overrides: { type?: string; amount?: number; currency?: string; paymentId?: string; orderId?: string } = {},
): object {
  return {
    type: overrides.type ?? 'payment.succeeded',
    timestamp: new Date().toISOString(),
    data: {
      orderId: overrides.orderId ?? toGlobalId('Order', order.id),
      amount: overrides.amount ?? Number(order.total_amount),
      currency: overrides.currency ?? order.currency,
      paymentId: overrides.paymentId ?? `pay_${randomUUID()}`,
    },
  };
}

export interface WebhookAnswer {
  status: number;
  body: { received?: boolean; webhookId?: string; outcome?: string; duplicate?: boolean; errors?: Array<{ message: string; extensions: { code: string } }> };
}

export async function answerOf(response: Response): Promise<WebhookAnswer> {
  return { status: response.status, body: (await response.json()) as WebhookAnswer['body'] };
}
