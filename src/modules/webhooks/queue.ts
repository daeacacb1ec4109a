import type { Scope } from '../../scope/scope.js';

/**
 * The job queue as this module uses it: one `webhooks.deliver` job per
 * pending attempt of a delivery, keyed by the delivery's id (at most one
 * waiting job per delivery), enqueued in the caller's unit of work so that a
 * rolled back write leaves no job. The delivery row's `next_attempt_at` says
 * the same time as the job's `runAt`.
 *
 * MERGE(h-jobs): until src/jobs (enqueueJob) lands in this branch, the
 * delivery row is the only record of the schedule and this checks the unit
 * only; at the merge the body becomes `enqueueJob(scope, { task, payload,
 * jobKey, runAt, maxAttempts })`.
 */
export const DELIVER_TASK = 'webhooks.deliver';

/** Attempts of one job before graphile-worker gives up on it: only infrastructure failures (the database) throw. */
export const DELIVER_JOB_ATTEMPTS = 5;

export function enqueueDelivery(scope: Scope, deliveryId: string, runAt?: Date): Promise<void> {
  if (!scope.unit) return Promise.reject(new Error(`enqueueDelivery(${deliveryId}) must run inside a unit of work`));
  scope.log.debug({ task: DELIVER_TASK, deliveryId, runAt }, 'webhook delivery scheduled');
  return Promise.resolve();
}
