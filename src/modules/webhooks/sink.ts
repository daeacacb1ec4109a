import { afterCommit } from '../../db/unit-of-work.js';
import { jobPayloadMeta } from '../../jobs/enqueue.js';
import type { DomainEvent, EventSinkOf } from '../../scope/event-types.js';
import type { Scope } from '../../scope/scope.js';
import { dispatcherFor } from './dispatcher.js';
import { isWebhookWireType, webhookData } from './payload.js';
import { DELIVER_BATCH_MAX, DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from './queue.js';
import { writeClaimedOutbox, writeOutbox } from './webhook.repository.js';

/**
 * The outbox: for each domain event of a unit of work (src/scope/events.ts),
 * right before its COMMIT and in its transaction, one `webhook_events` row
 * and one delivery per enabled endpoint that subscribed to the type and may
 * hear it (a seller in the event's audience, or an admin), and one
 * `webhooks.deliver` job for the unit's deliveries (one per
 * `DELIVER_BATCH_MAX` of them), all in one statement for all of the unit's
 * events (`writeOutbox`). When this process runs the webhook dispatcher on
 * the unit's database (a worker in the process: ./dispatcher.ts), no job:
 * the deliveries are written leased to it (`writeClaimedOutbox`), and handed
 * to it after the COMMIT. A rolled back
 * unit leaves none of them; a committed one leaves all of them. An event no endpoint hears writes
 * nothing; a unit with no event webhooks carry runs no statement.
 */

/** A domain event as the unit of work hands it over (or as a test builds one). */
export type SinkEvent = Pick<DomainEvent, 'audience' | 'occurredAt'> & { type: string; data: object };

export const webhookEventSink: EventSinkOf<Scope> & { beforeCommit(scope: Scope, events: readonly SinkEvent[]): Promise<void> } = {
  name: 'webhooks',
  async beforeCommit(scope: Scope, events: readonly SinkEvent[]): Promise<void> {
    const carried = events.filter((event) => isWebhookWireType(event.type));
    if (carried.length === 0) return;
    // Its jobs are added by its own statement, not enqueueJob: the same rule (a job commits with the unit or not at all).
    if (!scope.unit) throw new Error('the webhook sink must run inside a unit of work');
    const outbox = carried.map((event) => ({ type: event.type, payload: webhookData(event.type, event.data as Record<string, unknown>), occurredAt: event.occurredAt, audience: event.audience }));
    // This process's dispatcher, when it runs one on this database, attempts them after the commit: leased to it, no job.
    const dispatcher = dispatcherFor(scope.deps.db);
    if (dispatcher) {
      const lease = dispatcher.lease(scope);
      const claims = await writeClaimedOutbox(scope.db, outbox, lease);
      if (claims.length === 0) return;
      scope.log.debug({ events: new Set(claims.map((claim) => claim.event.id)).size, deliveries: claims.length }, 'webhook deliveries leased to the dispatcher');
      await afterCommit(scope, () => dispatcher.dispatch(claims.map((claim) => ({ ...claim, claimant: lease.claimant })), lease.expires));
      return;
    }
    const written = await writeOutbox(scope.db, outbox, { task: DELIVER_TASK, maxAttempts: DELIVER_JOB_ATTEMPTS, batchSize: DELIVER_BATCH_MAX, payloadExtra: jobPayloadMeta() });
    if (written.length > 0) scope.log.debug({ events: new Set(written.map((row) => row.event_id)).size, deliveries: written.length }, 'webhook deliveries enqueued');
  },
};
