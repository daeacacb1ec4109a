import { unitOfWork } from '../../db/unit-of-work.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import type { Scope } from '../../scope/scope.js';
import { attemptDelivery, type AttemptOutcome } from './attempt.js';
import { nextDelayMs } from './backoff.js';
import { TEST_EVENT_TYPE, webhookBody } from './payload.js';
import { countAttempt, countDisabledEndpoint } from './webhook.metrics.js';
import { enqueueDelivery } from './queue.js';
import { openSecret, webhookHeaders } from './signing.js';
import type { WebhookLoaders } from './webhook.loaders.js';
import {
  claimDelivery,
  countDeliveries,
  insertAttempt,
  insertDeliveries,
  insertEvent,
  markEndpointFailing,
  markEndpointHealthy,
  updateDelivery,
  updateEndpoint,
  type DeliveryWithType,
  type KeyedDeliveryRow,
} from './webhook.repository.js';
import { webhookSettings } from './webhook.settings.js';
import type { WebhookDeliveryStatus, WebhookEndpointRow, WebhookEventRow } from './webhook.table.js';
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

/** The body of a stored event; a test message says what it is. */
function bodyOf(event: WebhookEventRow): string {
  return webhookBody(event.type, event.occurred_at, event.type === TEST_EVENT_TYPE ? { message: 'A test message from sendTestWebhook.' } : event.payload);
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
function signingSecrets(scope: Scope, endpoint: WebhookEndpointRow, now: Date): string[] {
  const keys = scope.deps.auth.keys;
  const current = openSecret(keys, endpoint.id, endpoint.secret_sealed);
  const previous =
    endpoint.previous_secret_sealed && endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > now
      ? openSecret(keys, endpoint.id, endpoint.previous_secret_sealed)
      : undefined;
  return [current, previous].filter((secret): secret is string => secret !== undefined);
}

export type DeliveryRun = 'delivered' | 'retrying' | 'failed' | 'skipped' | 'nothing-to-do';

/**
 * The `webhooks.deliver` task's body: one attempt of one delivery, in the
 * caller's unit of work (the worker's). The delivery row is locked (SKIP
 * LOCKED: a second worker on the same delivery does nothing), the attempt is
 * logged, and the next one is scheduled, or the delivery ends. Idempotent: a
 * delivery that is no longer pending is left alone.
 */
export async function runDelivery(scope: Scope, deliveryId: string): Promise<DeliveryRun> {
  const claimed = await claimDelivery(scope.db, deliveryId);
  if (!claimed || claimed.delivery.status !== 'PENDING') return 'nothing-to-do';
  const { delivery, event, endpoint } = claimed;
  const settings = webhookSettings(scope);
  const started = new Date();
  const number = delivery.attempt_count + 1;
  if (!endpoint.enabled) {
    await updateDelivery(scope.db, delivery.id, { status: 'FAILED', next_attempt_at: null, last_error: `endpoint disabled: ${endpoint.disabled_reason ?? 'by its owner'}` });
    return 'failed';
  }
  const secrets = signingSecrets(scope, endpoint, started);
  if (secrets.length === 0) {
    await updateDelivery(scope.db, delivery.id, { status: 'FAILED', next_attempt_at: null, last_error: 'the signing secret no longer opens (its sealing key was retired): rotate the secret' });
    return 'failed';
  }
  const body = bodyOf(event);
  const headers = webhookHeaders(secrets, webhookIdOf(delivery.id), Math.floor(started.getTime() / 1000), body);
  const outcome = await attemptDelivery({ url: endpoint.url, headers, body }, { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivateTargets });
  const log = scope.log.child({ deliveryId: delivery.id, eventId: event.id, endpointId: endpoint.id, attempt: number });
  countAttempt(outcome.kind, outcome.durationMs);

  if (outcome.kind === 'skipped') {
    const next = new Date(Date.now() + outcome.retryAfterMs);
    await updateDelivery(scope.db, delivery.id, { next_attempt_at: next, last_error: outcome.error });
    await enqueueDelivery(scope, delivery.id, next);
    log.info({ outcome: outcome.kind }, 'webhook attempt skipped: circuit open');
    return 'skipped';
  }
  const record = (next: Date | null, error: string | null) =>
    insertAttempt(scope.db, { delivery_id: delivery.id, number, started_at: started, status_code: outcome.statusCode, duration_ms: outcome.durationMs, error, next_attempt_at: next });
  const common = { attempt_count: number, last_status_code: outcome.statusCode, last_duration_ms: outcome.durationMs };

  if (outcome.kind === 'delivered') {
    await record(null, null);
    await updateDelivery(scope.db, delivery.id, { ...common, status: 'DELIVERED', last_error: null, next_attempt_at: null, delivered_at: new Date() });
    await markEndpointHealthy(scope.db, endpoint.id);
    log.info({ outcome: outcome.kind, statusCode: outcome.statusCode, durationMs: outcome.durationMs }, 'webhook delivered');
    return 'delivered';
  }
  if (outcome.kind === 'gone') {
    const reason = `The receiver answered 410 Gone on ${started.toISOString()}.`;
    await record(null, 'HTTP 410: endpoint disabled');
    await updateDelivery(scope.db, delivery.id, { ...common, status: 'FAILED', last_error: 'HTTP 410: endpoint disabled', next_attempt_at: null });
    await disableEndpoint(scope, endpoint.id, reason);
    countDisabledEndpoint('gone');
    log.warn({ outcome: outcome.kind }, 'webhook endpoint answered 410 Gone: disabled');
    return 'failed';
  }
  return recordFailure(scope, { delivery: { id: delivery.id }, endpoint, outcome, inSchedule: number - delivery.schedule_start, started, record, common, log });
}

async function recordFailure(
  scope: Scope,
  run: {
    delivery: { id: string };
    endpoint: WebhookEndpointRow;
    outcome: Extract<AttemptOutcome, { kind: 'failed' }>;
    started: Date;
    /** The attempt's place in the current schedule (1 for the first after a (re)delivery began). */
    inSchedule: number;
    record: (next: Date | null, error: string | null) => Promise<void>;
    common: { attempt_count: number; last_status_code: number | null; last_duration_ms: number };
    log: Scope['log'];
  },
): Promise<DeliveryRun> {
  const { delivery, endpoint, outcome, inSchedule, started, record, common, log } = run;
  const settings = webhookSettings(scope);
  const health = await markEndpointFailing(scope.db, endpoint.id, started);
  const failingSince = health?.failing_since ?? started;
  const failingFor = started.getTime() - failingSince.getTime();
  if (failingFor >= settings.disableAfterHours * 3600 * 1000) {
    await record(null, outcome.error);
    await updateDelivery(scope.db, delivery.id, { ...common, status: 'FAILED', last_error: outcome.error, next_attempt_at: null });
    await disableEndpoint(scope, endpoint.id, `Every delivery attempt has failed since ${failingSince.toISOString()} (last: ${outcome.error}).`);
    countDisabledEndpoint('failing');
    log.warn({ outcome: outcome.kind, error: outcome.error }, 'webhook endpoint failing for too long: disabled');
    return 'failed';
  }
  const delay = nextDelayMs(inSchedule, settings.retryBaseMs, outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs });
  const next = delay === null ? null : new Date(Date.now() + delay);
  await record(next, outcome.error);
  await updateDelivery(scope.db, delivery.id, { ...common, status: next ? 'PENDING' : 'FAILED', last_error: outcome.error, next_attempt_at: next });
  if (next) await enqueueDelivery(scope, delivery.id, next);
  log.info({ outcome: outcome.kind, statusCode: outcome.statusCode, error: outcome.error, nextAttemptAt: next }, 'webhook attempt failed');
  return next ? 'retrying' : 'failed';
}

async function disableEndpoint(scope: Scope, endpointId: string, reason: string): Promise<void> {
  await updateEndpoint(scope.db, endpointId, { enabled: false, disabled_reason: reason, disabled_at: new Date() });
}
