import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import { listDeliveries, redeliverWebhook, sendTestWebhook, webhookIdOf } from './delivery.service.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listEndpoints,
  rotateWebhookSecret,
  setWebhookEndpointEnabled,
  updateWebhookEndpoint,
} from './endpoint.service.js';
import { enumOfWireType, type WebhookEventEnum } from './payload.js';
import type { WebhookLoaders } from './webhook.loaders.js';

const endpointId = (id: string) => idOfTypeOrNull(id, 'WebhookEndpoint', 'input.endpointId');

export const webhookResolvers: Resolvers<Scope<WebhookLoaders>> = {
  Mutation: {
    createWebhookEndpoint: (_root, { input }, ctx) => createWebhookEndpoint(ctx, input),
    updateWebhookEndpoint: (_root, { input }, ctx) => updateWebhookEndpoint(ctx, { ...input, endpointId: endpointId(input.endpointId) }),
    rotateWebhookSecret: (_root, { input }, ctx) => rotateWebhookSecret(ctx, { endpointId: endpointId(input.endpointId) }),
    disableWebhookEndpoint: (_root, { input }, ctx) => setWebhookEndpointEnabled(ctx, { endpointId: endpointId(input.endpointId) }, false),
    enableWebhookEndpoint: (_root, { input }, ctx) => setWebhookEndpointEnabled(ctx, { endpointId: endpointId(input.endpointId) }, true),
    deleteWebhookEndpoint: async (_root, { input }, ctx) => {
      const result = await deleteWebhookEndpoint(ctx, { endpointId: endpointId(input.endpointId) });
      return { ...result, deletedEndpointId: result.deletedEndpointId ? toGlobalId('WebhookEndpoint', result.deletedEndpointId) : null };
    },
    redeliverWebhook: (_root, { input }, ctx) => redeliverWebhook(ctx, { deliveryId: idOfTypeOrNull(input.deliveryId, 'WebhookDelivery', 'input.deliveryId') }),
    sendTestWebhook: (_root, { input }, ctx) => sendTestWebhook(ctx, { endpointId: endpointId(input.endpointId) }),
  },
  User: {
    webhookEndpoints: (user, args, ctx) => listEndpoints(ctx, user.id, args),
  },
  WebhookEndpoint: {
    id: (endpoint) => toGlobalId('WebhookEndpoint', endpoint.id),
    events: (endpoint) => endpoint.events.map(enumOfWireType).filter((name): name is WebhookEventEnum => name !== undefined),
    disabledReason: (endpoint) => endpoint.disabled_reason,
    disabledAt: (endpoint) => endpoint.disabled_at,
    failingSince: (endpoint) => endpoint.failing_since,
    previousSecretExpiresAt: (endpoint) =>
      endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > new Date() ? endpoint.previous_secret_expires_at : null,
    createdAt: (endpoint) => endpoint.created_at,
    deliveries: (endpoint, args, ctx) => listDeliveries(ctx, endpoint, args),
  },
  WebhookDelivery: {
    id: (delivery) => toGlobalId('WebhookDelivery', delivery.id),
    webhookId: (delivery) => webhookIdOf(delivery.id),
    eventType: (delivery) => delivery.event_type,
    attemptCount: (delivery) => delivery.attempt_count,
    lastStatusCode: (delivery) => delivery.last_status_code,
    lastDurationMs: (delivery) => delivery.last_duration_ms,
    lastError: (delivery) => delivery.last_error,
    nextAttemptAt: (delivery) => delivery.next_attempt_at,
    deliveredAt: (delivery) => delivery.delivered_at,
    createdAt: (delivery) => delivery.created_at,
    attempts: (delivery, _args, ctx) => ctx.loaders.webhookAttemptsByDelivery.load(delivery.id),
  },
  WebhookAttempt: {
    startedAt: (attempt) => attempt.started_at,
    statusCode: (attempt) => attempt.status_code,
    durationMs: (attempt) => attempt.duration_ms,
    nextAttemptAt: (attempt) => attempt.next_attempt_at,
  },
  WebhookEndpointConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
  WebhookDeliveryConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
