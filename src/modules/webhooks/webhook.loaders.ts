import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { byKeys, groupedByKeys, LoaderFamily } from '../../loaders/batch.js';
import { pageRequestKey, type PageRequest } from '../../pagination/connection.js';
import { findAttemptsByDeliveryIds, findDeliveriesByIds, findDeliveryPages, findEndpointsByIds, type DeliveryWithType, type KeyedDeliveryRow } from './webhook.repository.js';
import type { WebhookAttemptRow, WebhookDeliveryStatus, WebhookEndpointRow } from './webhook.table.js';

export type WebhookLoaders = ReturnType<typeof createWebhookLoaders>;

interface DeliveryPageArgs {
  request: PageRequest;
  status: WebhookDeliveryStatus | null;
}

export function createWebhookLoaders(db: Kysely<Database>) {
  return {
    webhookEndpointById: new DataLoader<string, WebhookEndpointRow | null>(async (ids) => byKeys(ids, await findEndpointsByIds(db, ids), (row) => row.id)),
    webhookDeliveryById: new DataLoader<string, DeliveryWithType | null>(async (ids) => byKeys(ids, await findDeliveriesByIds(db, ids), (row) => row.id)),
    /** One page of deliveries per endpoint (`limit + 1` rows), one statement per distinct page request and status. */
    webhookDeliveryPages: new LoaderFamily<string, KeyedDeliveryRow[], DeliveryPageArgs>(
      ({ request, status }) => `${status ?? '*'}:${pageRequestKey(request)}`,
      async (endpointIds, { request, status }) =>
        groupedByKeys(endpointIds, await findDeliveryPages(db, endpointIds, request, status), (row) => row.endpoint_id),
    ),
    /** A delivery's attempts, oldest first. */
    webhookAttemptsByDelivery: new DataLoader<string, WebhookAttemptRow[]>(async (ids) =>
      groupedByKeys(ids, await findAttemptsByDeliveryIds(db, ids), (row) => row.delivery_id),
    ),
  };
}
