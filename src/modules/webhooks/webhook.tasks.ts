import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { unitOfWork } from '../../db/unit-of-work.js';
import { defineTask } from '../../jobs/task.js';
import type { Scope } from '../../scope/scope.js';
import { claimAttempts, isDelivered, recordAttempt, recordDelivered, sendAttempts, type Claim, type DeliveryRun } from './attempt.service.js';
import { resealSecrets } from './reseal.service.js';
import { DELIVER_BATCH_MAX, DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from './queue.js';

/**
 * One attempt of each of `deliveryIds` that is due, as the `webhooks.deliver`
 * task makes it (./attempt.service.ts): the claims (one statement, no unit of
 * work), the HTTP calls (concurrently) with no connection and no transaction
 * held, then the 2xx results in one statement and each other result, its
 * attempt log and its next job in a short unit of work of its own. `claimant`
 * is the lease holder's name: the job's (`job:<id>`, so a re-run of the job
 * takes its leases back), or a one-off token. Called outside any unit: a
 * transaction held over the HTTP calls is what this avoids. Returns what
 * became of each delivery, by id (`nothing-to-do` for one not claimed).
 */
export async function runDeliveries(scope: Scope, deliveryIds: readonly string[], claimant = `run:${randomUUID()}`): Promise<Map<string, DeliveryRun>> {
  if (scope.unit) throw new Error('runDeliveries must run outside a unit of work: it holds none during the HTTP calls');
  const runs = new Map<string, DeliveryRun>(deliveryIds.map((id) => [id, 'nothing-to-do']));
  return deliverClaims(scope, await claimAttempts(scope, deliveryIds, claimant), runs);
}

/**
 * The attempts of deliveries claimed already (by `claimAttempts`, or the
 * dispatcher's sweep: ./dispatcher.ts): the HTTP calls, then the 2xx in one
 * statement and each other outcome in a unit of its own. Adds what became
 * of each to `runs`.
 */
export async function deliverClaims(scope: Scope, claims: readonly Claim[], runs = new Map<string, DeliveryRun>()): Promise<Map<string, DeliveryRun>> {
  if (claims.length === 0) return runs;
  const sent = await sendAttempts(scope, claims);
  for (const [id, run] of await recordDelivered(scope, sent)) runs.set(id, run);
  for (const { claim, result } of sent) {
    if (!isDelivered(result)) runs.set(claim.delivery.id, await unitOfWork(scope, (unit) => recordAttempt(unit, claim, result)));
  }
  return runs;
}

/** One attempt of one delivery (`runDeliveries` of one). */
export async function runDelivery(scope: Scope, deliveryId: string, claimant = `run:${randomUUID()}`): Promise<DeliveryRun> {
  return (await runDeliveries(scope, [deliveryId], claimant)).get(deliveryId) ?? 'nothing-to-do';
}

/** Endpoints re-sealed per statement, and statements per run, by `webhooks.resealSecrets`. */
const RESEAL_BATCH = 200;
const RESEAL_BATCHES_PER_RUN = 50;

export const webhookTasks = {
  /**
   * `webhooks.deliver` (`unit: false`: it opens its own short units, see
   * `runDeliveries`). It throws only when the database does (graphile-worker then
   * retries the job, which takes its own lease back); a failed attempt is
   * logged and the next one enqueued by the task itself, on the webhook schedule.
   */
  [DELIVER_TASK]: defineTask({
    // One delivery (a retry, a redelivery, a test message), or the deliveries a unit of work wrote (the outbox).
    payload: z.union([
      z.object({ deliveryId: z.string().uuid() }).strict(),
      z.object({ deliveryIds: z.array(z.string().uuid()).min(1).max(DELIVER_BATCH_MAX) }).strict(),
    ]),
    maxAttempts: DELIVER_JOB_ATTEMPTS,
    unit: false,
    async run(scope, payload, job) {
      await runDeliveries(scope, 'deliveryId' in payload ? [payload.deliveryId] : payload.deliveryIds, `job:${job.id}`);
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
