import { unitOfWork } from '../../db/unit-of-work.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import type { Scope } from '../../scope/scope.js';
import { TEST_EVENT_TYPE } from './payload.js';
import { enqueueDelivery } from './queue.js';
import type { WebhookLoaders } from './webhook.loaders.js';
import { countDeliveries, insertDeliveries, insertEvent, updateDelivery, type DeliveryWithType, type KeyedDeliveryRow } from './webhook.repository.js';
import type { WebhookDeliveryStatus, WebhookEndpointRow } from './webhook.table.js';
import { ownEndpoint, ownerOf } from './endpoint.service.js';

type WebhookScope = Scope<WebhookLoaders>;

/** The `webhook-id` of a delivery: the same on every attempt and on a manual redelivery, so receivers can dedupe. */
export const webhookIdOf = (deliveryId: string) => `msg_${deliveryId.replaceAll('-', '')}`;

/** A delivery's page for its endpoint (the permission layer lets only the endpoint's owner ask). */
export async function listDeliveries(
  scope: WebhookScope,
  endpoint: WebhookEndpointRow,
  args: ConnectionArgs & { filter?: { status?: WebhookDeliveryStatus | null } | null },
): Promise<Connection<KeyedDeliveryRow>> {
  const request = parsePageRequest(args, { name: 'CREATED_AT', kind: 'timestamp', direction: 'DESC' });
  const status = args.filter?.status ?? null;
  const rows = await scope.loaders.webhookDeliveryPages.load(endpoint.id, { request, status });
  return toConnection(rows, request, () => countDeliveries(scope.db, endpoint.id, status));
}

/** One of the viewer's deliveries; anyone else's is `null`, like a missing one. */
export async function ownDelivery(scope: WebhookScope, id: string): Promise<DeliveryWithType | null> {
  const delivery = await scope.loaders.webhookDeliveryById.load(id);
  if (!delivery) return null;
  return (await ownEndpoint(scope, delivery.endpoint_id)) ? delivery : null;
}

export interface DeliveryResult {
  delivery: DeliveryWithType | null;
  userErrors: UserErrorData[];
}

const deliveryNotFound = (field: string): DeliveryResult => ({
  delivery: null,
  userErrors: [{ field: ['input', field], code: 'NOT_FOUND', message: 'No such webhook delivery.' }],
});

/**
 * Sends a delivery again from the first attempt of a new schedule (its
 * attempts so far stay in the log, numbered on), with the
 * same `webhook-id` (receivers that saw it already drop it). A pending one is
 * left alone; a disabled endpoint is refused.
 */
export async function redeliverWebhook(scope: WebhookScope, input: { deliveryId: string | null }): Promise<DeliveryResult> {
  ownerOf(scope);
  const id = input.deliveryId;
  const found = id ? await ownDelivery(scope, id) : null;
  if (!found) return deliveryNotFound('deliveryId');
  const endpoint = await ownEndpoint(scope, found.endpoint_id);
  if (!endpoint?.enabled) {
    return { delivery: null, userErrors: [{ field: ['input', 'deliveryId'], code: 'INVALID_TRANSITION', message: 'Enable the endpoint first.' }] };
  }
  if (found.status === 'PENDING') return { delivery: found, userErrors: [] };
  await unitOfWork(scope, async (unit) => {
    const now = new Date();
    await updateDelivery(unit.db, found.id, { status: 'PENDING', schedule_start: found.attempt_count, next_attempt_at: now, delivered_at: null });
    await enqueueDelivery(unit, found.id, now);
  });
  return { delivery: await scope.loaders.webhookDeliveryById.load(found.id), userErrors: [] };
}

/** Sends a `webhook.test` message to one of the viewer's endpoints, delivered (and retried) like any other. */
export async function sendTestWebhook(scope: WebhookScope, input: { endpointId: string | null }): Promise<DeliveryResult> {
  ownerOf(scope);
  const endpoint = input.endpointId ? await ownEndpoint(scope, input.endpointId) : null;
  if (!endpoint) return { delivery: null, userErrors: [{ field: ['input', 'endpointId'], code: 'NOT_FOUND', message: 'No such webhook endpoint.' }] };
  if (!endpoint.enabled) {
    return { delivery: null, userErrors: [{ field: ['input', 'endpointId'], code: 'INVALID_TRANSITION', message: 'Enable the endpoint first.' }] };
  }
  const deliveryId = await unitOfWork(scope, async (unit) => {
    const now = new Date();
    const event = await insertEvent(unit.db, { type: TEST_EVENT_TYPE, payload: {}, occurred_at: now });
    const [delivery] = await insertDeliveries(unit.db, event.id, [endpoint.id], now);
    if (!delivery) throw new Error('sendTestWebhook: no delivery row');
    await enqueueDelivery(unit, delivery.id, now);
    return delivery.id;
  });
  return { delivery: await scope.loaders.webhookDeliveryById.load(deliveryId), userErrors: [] };
}
