import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { unitOfWork } from '../../db/unit-of-work.js';
import { defineTask } from '../../jobs/task.js';
import type { Scope } from '../../scope/scope.js';
import { claimAttempt, recordAttempt, sendAttempt, type DeliveryRun } from './attempt.service.js';
import { resealSecrets } from './reseal.service.js';
import { DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from './queue.js';

/**
 * One attempt of one delivery, as the `webhooks.deliver` task makes it
 * (./attempt.service.ts): the claim (one statement, no unit of work), the
 * HTTP call with no connection and no transaction held, then the outcome,
 * the attempt log and the next job in one short unit of work. `claimant`
 * is the lease holder's name: the job's (`job:<id>`, so a re-run of the job
 * takes its lease back), or a one-off token. Called outside any unit: a
 * transaction held over the HTTP call is what this avoids.
 */
export async function runDelivery(scope: Scope, deliveryId: string, claimant = `run:${randomUUID()}`): Promise<DeliveryRun> {
  if (scope.unit) throw new Error('runDelivery must run outside a unit of work: it holds none during the HTTP call');
  const claim = await claimAttempt(scope, deliveryId, claimant);
  if (!claim) return 'nothing-to-do';
  const result = await sendAttempt(scope, claim);
  return unitOfWork(scope, (unit) => recordAttempt(unit, claim, result));
}

/** Endpoints re-sealed per statement, and statements per run, by `webhooks.resealSecrets`. */
const RESEAL_BATCH = 200;
const RESEAL_BATCHES_PER_RUN = 50;

export const webhookTasks = {
  /**
   * `webhooks.deliver` (`unit: false`: it opens its own short units, see
   * `runDelivery`). It throws only when the database does (graphile-worker then
   * retries the job, which takes its own lease back); a failed attempt is
   * logged and the next one enqueued by the task itself, on the webhook schedule.
   */
  [DELIVER_TASK]: defineTask({
    payload: z.object({ deliveryId: z.string().uuid() }).strict(),
    maxAttempts: DELIVER_JOB_ATTEMPTS,
    unit: false,
    async run(scope, { deliveryId }, job) {
      await runDelivery(scope, deliveryId, `job:${job.id}`);
    },
  }),
  /** Hourly (see the descriptor's `schedules`): secrets sealed under a retired signing key move to the current one (reseal.service.ts). */
  'webhooks.resealSecrets': defineTask({
    payload: z.object({}).strict(),
    async run(scope) {
      let afterId: string | null = null;
      for (let batch = 0; batch < RESEAL_BATCHES_PER_RUN; batch += 1) {
        const result = await resealSecrets(scope, { batchSize: RESEAL_BATCH, afterId });
        if (result.lastId === null) return;
        afterId = result.lastId;
      }
    },
  }),
};
