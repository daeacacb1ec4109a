import { enqueueJob } from '../../jobs/enqueue.js';
import type { Scope } from '../../scope/scope.js';

/**
 * The job queue as this module uses it, always enqueued in the caller's unit
 * of work so that a rolled back write leaves no job:
 *
 * - the first attempts of the deliveries a unit of work wrote: one
 *   `webhooks.deliver` job for up to `DELIVER_BATCH_MAX` of them
 *   (`{ deliveryIds }`, added by the outbox statement, ./sink.ts);
 * - every later attempt (a retry, a redelivery) and a test message: one job
 *   per delivery (`{ deliveryId }`, `enqueueDelivery`), keyed by the
 *   delivery's id (at most one waiting job per delivery; a job added by the
 *   running one for the next attempt replaces nothing running).
 *
 * The delivery row's `next_attempt_at` says the same time as the job's
 * `runAt`; a job attempts only deliveries that are due.
 */
export const DELIVER_TASK = 'webhooks.deliver';

/** Deliveries in one outbox job at most: a unit of work that writes more gets several jobs. */
export const DELIVER_BATCH_MAX = 20;

/** Attempts of one job before graphile-worker gives up on it: only infrastructure failures (the database) throw. */
export const DELIVER_JOB_ATTEMPTS = 5;

export function enqueueDelivery(scope: Scope, deliveryId: string, runAt?: Date): Promise<void> {
  return enqueueJob(scope, {
    task: DELIVER_TASK,
    payload: { deliveryId },
    jobKey: deliveryId,
    maxAttempts: DELIVER_JOB_ATTEMPTS,
    ...(runAt ? { runAt } : {}),
  });
}
