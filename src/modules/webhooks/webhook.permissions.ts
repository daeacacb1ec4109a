import { allow, and } from '../../authz/shield-lib.js';

import { canManageWebhooks, isPersonalSession, isSelf, ownsWebhookParent } from '../../authz/rules.js';

const payload = { userErrors: allow };
const owned = <const F extends readonly string[]>(fields: F) => Object.fromEntries(fields.map((field) => [field, ownsWebhookParent])) as Record<F[number], typeof ownsWebhookParent>;

/**
 * Sellers and admins manage their own endpoints, in person; which endpoint or
 * delivery is the service's call (another owner's answers like a missing one).
 * Every endpoint and delivery field checks the owner again.
 */
export const webhookPermissions = {
  Mutation: {
    createWebhookEndpoint: canManageWebhooks,
    updateWebhookEndpoint: canManageWebhooks,
    rotateWebhookSecret: canManageWebhooks,
    disableWebhookEndpoint: canManageWebhooks,
    enableWebhookEndpoint: canManageWebhooks,
    deleteWebhookEndpoint: canManageWebhooks,
    redeliverWebhook: canManageWebhooks,
    sendTestWebhook: canManageWebhooks,
  },
  User: {
    webhookEndpoints: and(isSelf, isPersonalSession),
  },
  CreateWebhookEndpointPayload: { ...payload, endpoint: allow, secret: allow },
  UpdateWebhookEndpointPayload: { ...payload, endpoint: allow },
  RotateWebhookSecretPayload: { ...payload, endpoint: allow, secret: allow, previousSecretExpiresAt: allow },
  DisableWebhookEndpointPayload: { ...payload, endpoint: allow },
  EnableWebhookEndpointPayload: { ...payload, endpoint: allow },
  DeleteWebhookEndpointPayload: { ...payload, deletedEndpointId: allow },
  RedeliverWebhookPayload: { ...payload, delivery: allow },
  SendTestWebhookPayload: { ...payload, delivery: allow },
  WebhookEndpoint: owned([
    'id',
    'url',
    'description',
    'events',
    'enabled',
    'disabledReason',
    'disabledAt',
    'failingSince',
    'previousSecretExpiresAt',
    'createdAt',
    'deliveries',
  ] as const),
  WebhookDelivery: owned([
    'id',
    'webhookId',
    'eventType',
    'status',
    'attemptCount',
    'lastStatusCode',
    'lastDurationMs',
    'lastError',
    'nextAttemptAt',
    'deliveredAt',
    'createdAt',
    'attempts',
  ] as const),
  // Reached only through a delivery, whose fields check the owner.
  WebhookAttempt: { number: allow, startedAt: allow, statusCode: allow, durationMs: allow, error: allow, nextAttemptAt: allow },
  WebhookEndpointConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  WebhookEndpointEdge: { cursor: allow, node: allow },
  WebhookDeliveryConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  WebhookDeliveryEdge: { cursor: allow, node: allow },
};
