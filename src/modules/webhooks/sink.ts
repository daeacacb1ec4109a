import type { DomainEvent, EventSinkOf } from '../../scope/event-types.js';
import type { Scope } from '../../scope/scope.js';
import { isWebhookWireType, webhookData } from './payload.js';
import { enqueueDelivery } from './queue.js';
import { findSubscribedEndpoints, insertDeliveries, insertEvent } from './webhook.repository.js';

/**
 * The outbox: for each domain event of a unit of work (src/scope/events.ts),
 * right before its COMMIT and in its transaction, one `webhook_events` row
 * and one delivery per enabled endpoint that subscribed to the type and may
 * hear it (a seller in the event's audience, or an admin), and one
 * `webhooks.deliver` job per delivery. A rolled back unit leaves none of
 * them; a committed one leaves all of them. An event no endpoint hears
 * writes nothing.
 */

/** A domain event as the unit of work hands it over (or as a test builds one). */
export type SinkEvent = Pick<DomainEvent, 'audience' | 'occurredAt'> & { type: string; data: object };

export const webhookEventSink: EventSinkOf<Scope> & { beforeCommit(scope: Scope, events: readonly SinkEvent[]): Promise<void> } = {
  name: 'webhooks',
  async beforeCommit(scope: Scope, events: readonly SinkEvent[]): Promise<void> {
    for (const event of events) {
      if (!isWebhookWireType(event.type)) continue;
      const endpoints = await findSubscribedEndpoints(scope.db, event.type, event.audience);
      if (endpoints.length === 0) continue;
      const row = await insertEvent(scope.db, { type: event.type, payload: webhookData(event.type, event.data as Record<string, unknown>), occurred_at: event.occurredAt });
      const deliveries = await insertDeliveries(
        scope.db,
        row.id,
        endpoints.map((endpoint) => endpoint.id),
        new Date(),
      );
      for (const delivery of deliveries) await enqueueDelivery(scope, delivery.id);
      scope.log.debug({ eventId: row.id, type: event.type, deliveries: deliveries.length }, 'webhook deliveries enqueued');
    }
  },
};
