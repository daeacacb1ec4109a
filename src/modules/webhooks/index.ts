import * as m0013 from '../../../migrations/2026_12_07_0013_webhooks.js';
import * as m0014 from '../../../migrations/2026_12_07_0014_webhook_delivery_lease.js';
import * as m0018 from '../../../migrations/2026_12_08_0018_webhook_deliveries_due.js';
import * as m0019 from '../../../migrations/2026_12_08_0019_webhook_log_keys.js';
import { defineModule } from '../module.js';
import { ownDelivery } from './delivery.service.js';
import { dispatcherLoop } from './dispatcher.js';
import { ownEndpoint } from './endpoint.service.js';
import { createWebhookLoaders } from './webhook.loaders.js';
import { webhookPermissions } from './webhook.permissions.js';
import { webhookResolvers } from './webhook.resolvers.js';
import { webhookEventSink } from './sink.js';
import { webhookTasks } from './webhook.tasks.js';

declare module '../audit/audit.service.js' {
  interface AuditActions {
    WEBHOOK_ENDPOINT_CREATED: true;
    WEBHOOK_ENDPOINT_UPDATED: true;
    WEBHOOK_SECRET_ROTATED: true;
    WEBHOOK_ENDPOINT_ENABLED: true;
    WEBHOOK_ENDPOINT_DISABLED: true;
    WEBHOOK_ENDPOINT_DELETED: true;
  }
}

/**
 * Outbound webhooks (Standard Webhooks) for sellers and admins: endpoints,
 * the event sink that turns domain events into deliveries in the business
 * transaction, and the `webhooks.deliver` task that makes each attempt
 * (docs/architecture/decisions/2026-12-07-webhooks.md). No change kind (no
 * shared cached response shows an endpoint), no Idempotency-Key mutation
 * (creating an endpoint twice is visible and harmless; it moves no money
 * or stock).
 */
export const webhooksModule = defineModule({
  name: 'webhooks',
  schema: ['webhooks.graphql'],
  resolvers: webhookResolvers,
  permissions: webhookPermissions,
  createLoaders: createWebhookLoaders,
  nodeTypes: { WebhookEndpoint: ownEndpoint, WebhookDelivery: ownDelivery },
  migrations: {
    '2026_12_07_0013_webhooks': m0013,
    '2026_12_07_0014_webhook_delivery_lease': m0014,
    '2026_12_08_0018_webhook_deliveries_due': m0018,
    '2026_12_08_0019_webhook_log_keys': m0019,
  },
  changeTags: {},
  tables: ['webhook_endpoints', 'webhook_events', 'webhook_deliveries', 'webhook_attempts'],
  tasks: webhookTasks,
  // Hourly at minute 23: secrets sealed under a retired signing key move to the current key (reseal.service.ts).
  schedules: ['23 * * * * webhooks.resealSecrets'],
  // In every worker process: the first attempts of its own units' deliveries, in batches, and the sweep (dispatcher.ts).
  loops: { 'webhooks.dispatcher': dispatcherLoop },
  eventSinks: [webhookEventSink],
});
