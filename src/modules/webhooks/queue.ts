import { enqueueJob } from '../../jobs/enqueue.js';
import type { Scope } from '../../scope/scope.js';

/**
 * The job queue as this module uses it: one `webhooks.deliver` job per
 * pending attempt of a delivery, keyed by the delivery's id (at most one
 * waiting job per delivery; a job added by the running one for the next
 * attempt replaces nothing running), enqueued in the caller's unit of work
 * so that a rolled back write leaves no job. The delivery row's
 * `next_attempt_at` says the same time as the job's `runAt`.
 */
export const DELIVER_TASK = 'webhooks.deliver';

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
