import { toGlobalId } from '../../graphql/global-id.js';

/**
 * What a webhook body says about an event. Thin by design: the resource's
 * global id and the state the event itself establishes (an order's status
 * after the transition, a cancellation's reason), nothing read from other
 * tables. Everything in it is something the endpoint's owner (the order's
 * seller, the product's seller, an admin) can read through the API, and a
 * receiver that needs more fetches it with its own credentials, which also
 * answers with the state as of now rather than as of the event. Only the
 * members listed here are copied: a new member of an event's data is never
 * sent by accident.
 */

/** The event types endpoints may subscribe to: GraphQL enum value -> wire name. */
export const WEBHOOK_EVENT_TYPES = {
  ORDER_CREATED: 'order.created',
  ORDER_PAID: 'order.paid',
  ORDER_CANCELLED: 'order.cancelled',
  ORDER_SHIPPED: 'order.shipped',
  ORDER_DELIVERED: 'order.delivered',
  ORDER_REFUNDED: 'order.refunded',
  PRODUCT_OUT_OF_STOCK: 'product.out_of_stock',
  REVIEW_CREATED: 'review.created',
} as const;

export type WebhookEventEnum = keyof typeof WEBHOOK_EVENT_TYPES;
export type WebhookWireType = (typeof WEBHOOK_EVENT_TYPES)[WebhookEventEnum];

/** The type of the message `sendTestWebhook` sends. */
export const TEST_EVENT_TYPE = 'webhook.test';

const WIRE_TYPES = new Set<string>(Object.values(WEBHOOK_EVENT_TYPES));
const ENUM_BY_WIRE = new Map<string, WebhookEventEnum>(Object.entries(WEBHOOK_EVENT_TYPES).map(([name, wire]) => [wire, name as WebhookEventEnum]));

export function isWebhookWireType(type: string): type is WebhookWireType {
  return WIRE_TYPES.has(type);
}

export function enumOfWireType(type: string): WebhookEventEnum | undefined {
  return ENUM_BY_WIRE.get(type);
}

/** The order status each order event establishes. */
const ORDER_STATUS: Partial<Record<string, string>> = {
  'order.created': 'PENDING_PAYMENT',
  'order.paid': 'PAID',
  'order.cancelled': 'CANCELLED',
  'order.shipped': 'SHIPPED',
  'order.delivered': 'DELIVERED',
  'order.refunded': 'REFUNDED',
};

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The body's `data` for an event (an event as src/scope/events.ts records it: `data` carries raw ids). */
export function webhookData(type: string, data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const orderId = text(data['orderId']);
  if (orderId) out['order'] = { id: toGlobalId('Order', orderId), ...(ORDER_STATUS[type] ? { status: ORDER_STATUS[type] } : {}) };
  const reason = text(data['reason']);
  if (reason && type === 'order.cancelled') out['reason'] = reason;
  const reviewId = text(data['reviewId']);
  if (reviewId) out['review'] = { id: toGlobalId('Review', reviewId) };
  const productId = text(data['productId']);
  if (productId) out['product'] = { id: toGlobalId('Product', productId), ...(type === 'product.out_of_stock' ? { stock: 0 } : {}) };
  return out;
}

/** Receivers may refuse larger bodies; ours are a few hundred bytes. */
export const MAX_BODY_BYTES = 20 * 1024;

/** The Standard Webhooks body: `{"type", "timestamp", "data"}`. */
export function webhookBody(type: string, occurredAt: Date, data: Record<string, unknown>): string {
  const body = JSON.stringify({ type, timestamp: occurredAt.toISOString(), data });
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw new Error(`webhook body of ${type} exceeds ${MAX_BODY_BYTES} bytes`);
  return body;
}
