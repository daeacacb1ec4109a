/**
 * Payment expiry: orders left PENDING_PAYMENT longer than the payment TTL
 * (ORDER_PAYMENT_TTL_MINUTES) are cancelled by the system, reason
 * PAYMENT_EXPIRED, their stock returned once, audited, caches told. A payment
 * racing the expiry serialises on the order's row lock: whichever moves the
 * order first wins and the other finds it moved (the expiry skips a row a
 * payment holds and leaves it to the next run).
 */
import { z } from 'zod';

import { unitOfWork } from '../../db/unit-of-work.js';
import { defineTask } from '../../jobs/task.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { OrderLoaders } from './order.loaders.js';
import { cancelOrderBySystem } from './order-system.service.js';
import { lockUnpaidOrdersBefore } from './order.repository.js';

type OrderScope = Scope<OrderLoaders & ProductLoaders>;

export const DEFAULT_EXPIRY_BATCH_SIZE = 100;

export interface ExpiryOptions {
  /** The clock (a test seam); default now. */
  now?: Date;
  /** How long an order may wait for its payment, in ms (ORDER_PAYMENT_TTL_MINUTES). */
  olderThanMs: number;
  /** Orders cancelled in one unit of work at most. */
  batchSize?: number;
}

export interface ExpiryResult {
  /** Raw ids of the orders this call cancelled. */
  cancelled: string[];
  /** More expired orders were waiting beyond the batch (run again). */
  more: boolean;
}

/**
 * Cancels one batch of expired unpaid orders in the caller's unit of work (or
 * its own): the candidates are locked first (oldest first, skipping rows a
 * payment holds), then each goes through the same cancellation as every
 * other (cancelOrderBySystem: the status is checked on the locked row).
 */
export async function expireUnpaidOrders(scope: OrderScope, options: ExpiryOptions): Promise<ExpiryResult> {
  const batchSize = options.batchSize ?? DEFAULT_EXPIRY_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  if (!Number.isFinite(options.olderThanMs) || options.olderThanMs < 0) throw new RangeError(`olderThanMs must be a duration in ms (got ${options.olderThanMs})`);
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.olderThanMs);
  return unitOfWork(
    scope,
    async (unit) => {
      const candidates = await lockUnpaidOrdersBefore(unit.db, cutoff, batchSize + 1);
      const cancelled: string[] = [];
      for (const order of candidates.slice(0, batchSize)) {
        const result = await cancelOrderBySystem(unit, order.id, {
          reason: 'PAYMENT_EXPIRED',
          source: 'payment-expiry',
          details: { ttlMinutes: Math.round(options.olderThanMs / 60_000) },
        });
        if (result.outcome === 'APPLIED') cancelled.push(order.id);
      }
      if (cancelled.length > 0) unit.log.info({ cancelled: cancelled.length }, 'cancelled orders whose payment expired');
      return { cancelled, more: candidates.length > batchSize };
    },
    // Stock rows are locked order by order; a deadlock with a checkout re-runs the whole batch.
    { rerunnable: true },
  );
}

/** Batches one run of the task cancels at most, so a backlog is worked off over several runs. */
const MAX_BATCHES_PER_RUN = 10;

/** The task's payload: the TTL travels with the job, so the schedule (built from the configuration) decides it. */
export const expirePaymentsPayload = z
  .object({
    ttlMinutes: z.number().int().min(1).max(10_080),
    batchSize: z.number().int().min(1).max(1_000).optional(),
  })
  .strict();
export type ExpirePaymentsPayload = z.infer<typeof expirePaymentsPayload>;

/**
 * The scheduled task `orders.expirePayments` (issue 22): runs batches until
 * none is left or MAX_BATCHES_PER_RUN have run. Idempotent: a second run
 * finds nothing to do. Each batch is its own unit of work when the caller has
 * none; inside the job runner's unit they all join it.
 */
export async function expirePaymentsTask(scope: OrderScope, payload: ExpirePaymentsPayload, now: () => Date = () => new Date()): Promise<{ cancelled: number }> {
  const { ttlMinutes, batchSize } = expirePaymentsPayload.parse(payload);
  let cancelled = 0;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch += 1) {
    const result = await expireUnpaidOrders(scope, { now: now(), olderThanMs: ttlMinutes * 60_000, ...(batchSize ? { batchSize } : {}) });
    cancelled += result.cancelled.length;
    if (!result.more) break;
  }
  return { cancelled };
}

/** The crontab line (graphile-worker syntax) that runs the task every minute with this TTL. */
export function expirePaymentsSchedule(ttlMinutes: number): string {
  return `* * * * * orders.expirePayments ?max=1&jobKey=orders.expirePayments&jobKeyMode=replace ${JSON.stringify({ ttlMinutes })}`;
}

/** The job the crontab line enqueues (declared in the orders descriptor, run by the worker in a unit of its own). */
export const expirePaymentsJob = defineTask({
  payload: expirePaymentsPayload,
  maxAttempts: 1,
  async run(scope: OrderScope, payload) {
    const { cancelled } = await expirePaymentsTask(scope, payload);
    if (cancelled > 0) scope.log.info({ cancelled }, 'expired unpaid orders');
  },
});
