/**
 * Inbound payment webhooks: what a verified message does (the HTTP edge,
 * src/http/payment-webhook.ts, checks the signature and parses the body).
 * One unit of work per message: the event row keyed by its webhook id is
 * inserted first (a redelivery, even a concurrent one, finds it and changes
 * nothing), then the order moves through the orders module's system path,
 * then the row gets its outcome. A failure rolls back both.
 */
import { unitOfWork } from '../../db/unit-of-work.js';
import type { Scope } from '../../scope/scope.js';
import type { OrderLoaders } from '../orders/order.loaders.js';
import { cancelOrderBySystem, markOrderPaidBySystem, type SystemMoveResult } from '../orders/order-system.service.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { HandledMessage, ParsedMessage } from './payment-message.js';
import { findPaymentEventByWebhookId, hasAppliedPayment, insertPaymentEventIfNew, setPaymentEventOutcome } from './payment-event.repository.js';
import type { PaymentEventOutcome } from './payment-event.table.js';

type PaymentScope = Scope<OrderLoaders & ProductLoaders>;

export interface PaymentWebhook {
  /** The `webhook-id` header: the provider's message id, stable across its retries. */
  webhookId: string;
  message: Extract<ParsedMessage, { ok: true }>;
  /** The raw id behind `data.orderId` (the edge decodes the global id), `null` when it names no order. */
  orderId: string | null;
}

export interface PaymentReceipt {
  outcome: PaymentEventOutcome;
  /** This webhook id had been received before; nothing changed now. */
  duplicate: boolean;
}

interface Decision {
  outcome: PaymentEventOutcome;
  orderId: string | null;
  detail: string | null;
}

function decided(result: SystemMoveResult, what: string): Decision {
  switch (result.outcome) {
    case 'UNKNOWN_ORDER':
      return { outcome: 'UNKNOWN_ORDER', orderId: null, detail: 'No order has this id.' };
    case 'APPLIED':
      return { outcome: 'APPLIED', orderId: result.order.id, detail: what };
    case 'ALREADY_FINAL':
      return { outcome: 'ALREADY_FINAL', orderId: result.order.id, detail: `The order is ${result.order.status}; nothing changed.` };
    case 'AMOUNT_MISMATCH':
      return {
        outcome: 'AMOUNT_MISMATCH',
        orderId: result.order.id,
        detail: `The order's total is ${result.order.total_amount} ${result.order.currency}; the order was not marked paid.`,
      };
  }
}

async function apply(unit: PaymentScope, message: HandledMessage, orderId: string | null, eventId: string): Promise<Decision> {
  if (message.type === 'payment.failed') {
    const result = await cancelOrderBySystem(unit, orderId, {
      reason: 'PAYMENT_FAILED',
      source: 'payment-provider',
      details: { paymentId: message.data.paymentId },
    });
    return decided(result, 'Cancelled: the payment failed.');
  }
  const { amount, currency, paymentId } = message.data;
  const result = await markOrderPaidBySystem(unit, { orderId, amount, currency, paymentId, source: 'payment-provider' });
  const decision = decided(result, 'Marked paid.');
  // The same payment told again under another message id: a duplicate, not a problem for an admin.
  if (result.outcome === 'ALREADY_FINAL' && result.order.status === 'PAID' && (await hasAppliedPayment(unit.db, paymentId, result.order.id, eventId))) {
    return { outcome: 'DUPLICATE', orderId: result.order.id, detail: 'This payment already marked the order paid.' };
  }
  return decision;
}

/** Records one verified message and applies it once; a repeated webhook id answers the first outcome and changes nothing. */
export async function receivePaymentWebhook(scope: PaymentScope, webhook: PaymentWebhook): Promise<PaymentReceipt> {
  const { message } = webhook;
  const handled = message.known ? message.message : undefined;
  const type = message.known ? message.message.type : message.type;
  const occurredAt = message.known ? message.message.timestamp : message.timestamp;
  return unitOfWork(
    scope,
    async (unit): Promise<PaymentReceipt> => {
      const inserted = await insertPaymentEventIfNew(unit.db, {
        webhook_id: webhook.webhookId,
        type,
        payment_id: handled?.data.paymentId ?? null,
        order_ref: handled?.data.orderId ?? null,
        amount: handled?.data.amount ?? null,
        currency: handled?.data.currency ?? null,
        occurred_at: occurredAt === undefined ? null : new Date(occurredAt),
        // Provisional: nobody sees the row before the outcome below is set in the same transaction.
        outcome: 'IGNORED',
        detail: null,
        payload: JSON.stringify(message.payload),
      });
      if (!inserted) {
        const first = await findPaymentEventByWebhookId(unit.db, webhook.webhookId);
        if (!first) throw new Error(`payment event ${webhook.webhookId} conflicted but cannot be read`);
        unit.log.info({ webhookId: webhook.webhookId, outcome: first.outcome }, 'payment webhook redelivered; nothing changed');
        return { outcome: first.outcome, duplicate: true };
      }
      const decision = handled ? await apply(unit, handled, webhook.orderId, inserted.id) : { outcome: 'IGNORED' as const, orderId: null, detail: 'Not an event type this server handles.' };
      await setPaymentEventOutcome(unit.db, inserted.id, { outcome: decision.outcome, order_id: decision.orderId, detail: decision.detail });
      const line = { webhookId: webhook.webhookId, type: handled?.type, outcome: decision.outcome, orderId: decision.orderId };
      if (decision.outcome === 'AMOUNT_MISMATCH' || decision.outcome === 'UNKNOWN_ORDER') unit.log.warn(line, 'payment webhook needs an admin');
      else unit.log.info(line, 'payment webhook received');
      return { outcome: decision.outcome, duplicate: false };
    },
    { rerunnable: true },
  );
}
