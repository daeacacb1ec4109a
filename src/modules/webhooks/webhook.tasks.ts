import { z } from 'zod';

import { defineTask } from '../../jobs/task.js';
import { runDelivery } from './delivery.service.js';
import { resealSecrets } from './reseal.service.js';
import { DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from './queue.js';

/**
 * `webhooks.deliver`: one attempt of one delivery (src/modules/webhooks/delivery.service.ts
 * `runDelivery`), in the worker's unit of work. It throws only when the
 * database does (graphile-worker then retries the job); a failed attempt is
 * logged and the next one enqueued by the task itself, on the webhook schedule.
 */
/** Endpoints re-sealed per statement, and statements per run, by `webhooks.resealSecrets`. */
const RESEAL_BATCH = 200;
const RESEAL_BATCHES_PER_RUN = 50;

export const webhookTasks = {
  [DELIVER_TASK]: defineTask({
    payload: z.object({ deliveryId: z.string().uuid() }).strict(),
    maxAttempts: DELIVER_JOB_ATTEMPTS,
    async run(scope, { deliveryId }) {
      await runDelivery(scope, deliveryId);
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
