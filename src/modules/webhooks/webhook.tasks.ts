import { z } from 'zod';

import { defineTask } from '../../jobs/task.js';
import { runDelivery } from './delivery.service.js';
import { DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from './queue.js';

/**
 * `webhooks.deliver`: one attempt of one delivery (src/modules/webhooks/delivery.service.ts
 * `runDelivery`), in the worker's unit of work. It throws only when the
 * database does (graphile-worker then retries the job); a failed attempt is
 * logged and the next one enqueued by the task itself, on the webhook schedule.
 */
export const webhookTasks = {
  [DELIVER_TASK]: defineTask({
    payload: z.object({ deliveryId: z.string().uuid() }).strict(),
    maxAttempts: DELIVER_JOB_ATTEMPTS,
    async run(scope, { deliveryId }) {
      await runDelivery(scope, deliveryId);
    },
  }),
};
