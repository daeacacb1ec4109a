/**
 * Order moves made by the system rather than by a signed-in person: a
 * payment provider's webhook (src/modules/payments) marking an order paid or
 * cancelling it after a failed payment, and the payment expiry
 * (order-expiry.service.ts). There is no viewer; the audit event has no
 * actor id and says `actor: "system"` with the source. The moves are the
 * same as the people's (`applyTransition`, on the row locked first), so a
 * webhook, the expiry and an admin's `markOrderPaid` racing for one order
 * serialise on its row lock: the first decides, the others find it moved.
 */
import { unitOfWork } from '../../db/unit-of-work.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { OrderLoaders } from './order.loaders.js';
import { lockOrderById } from './order.repository.js';
import { applyTransition } from './order.service.js';
import type { OrderRow } from './order.table.js';

type OrderScope = Scope<OrderLoaders & ProductLoaders>;

/** What acted, as audit events name it. */
export type SystemSource = 'payment-provider' | 'payment-expiry';

/** Why the system cancelled an order (the audit event's `reason`; the `order.cancelled` event's too). */
export type SystemCancelReason = 'PAYMENT_EXPIRED' | 'PAYMENT_FAILED';

export type SystemMoveResult =
  | { outcome: 'APPLIED'; order: OrderRow }
  | { outcome: 'UNKNOWN_ORDER' }
  /** Not PENDING_PAYMENT any more (paid, cancelled, ...): nothing changed. */
  | { outcome: 'ALREADY_FINAL'; order: OrderRow }
  /** The payment's amount or currency is not the order's total: nothing changed. */
  | { outcome: 'AMOUNT_MISMATCH'; order: OrderRow };

export interface SystemPayment {
  /** Raw order id; `null` when the provider's reference names no order (answered UNKNOWN_ORDER). */
  orderId: string | null;
  /** Minor units. */
  amount: number;
  currency: string;
  paymentId: string;
  source: SystemSource;
}

/**
 * Marks a PENDING_PAYMENT order PAID for a payment the system received,
 * when the amount and currency are the order's total; the same move as the
 * admins' `markOrderPaid`, audited as ORDER_PAID by the system.
 */
export async function markOrderPaidBySystem(scope: OrderScope, payment: SystemPayment): Promise<SystemMoveResult> {
  const { orderId } = payment;
  if (orderId === null) return { outcome: 'UNKNOWN_ORDER' };
  return unitOfWork(
    scope,
    async (unit): Promise<SystemMoveResult> => {
      const current = await lockOrderById(unit.db, orderId);
      if (!current) return { outcome: 'UNKNOWN_ORDER' };
      if (current.status !== 'PENDING_PAYMENT') return { outcome: 'ALREADY_FINAL', order: current };
      if (String(payment.amount) !== current.total_amount || payment.currency !== current.currency) {
        return { outcome: 'AMOUNT_MISMATCH', order: current };
      }
      const order = await applyTransition(unit, 'markPaid', current, {
        actorId: null,
        metadata: { actor: 'system', source: payment.source, paymentId: payment.paymentId },
      });
      return { outcome: 'APPLIED', order };
    },
    { rerunnable: true },
  );
}

/**
 * Cancels a PENDING_PAYMENT order for the system (the payment failed, or it
 * never came), returning its stock: the customers' `cancelOrder` move,
 * audited as ORDER_CANCELLED by the system with the reason. Another status:
 * ALREADY_FINAL, nothing changed (stock is returned once, by whichever
 * cancellation found the order pending).
 */
export async function cancelOrderBySystem(
  scope: OrderScope,
  orderId: string | null,
  cancellation: { reason: SystemCancelReason; source: SystemSource; details?: Record<string, unknown> },
): Promise<Exclude<SystemMoveResult, { outcome: 'AMOUNT_MISMATCH' }>> {
  if (orderId === null) return { outcome: 'UNKNOWN_ORDER' };
  return unitOfWork(
    scope,
    async (unit) => {
      const current = await lockOrderById(unit.db, orderId);
      if (!current) return { outcome: 'UNKNOWN_ORDER' as const };
      if (current.status !== 'PENDING_PAYMENT') return { outcome: 'ALREADY_FINAL' as const, order: current };
      const order = await applyTransition(unit, 'cancel', current, {
        actorId: null,
        metadata: { ...cancellation.details, actor: 'system', source: cancellation.source, reason: cancellation.reason },
        cancelReason: cancellation.reason,
      });
      return { outcome: 'APPLIED' as const, order };
    },
    { rerunnable: true },
  );
}
