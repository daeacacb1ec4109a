import { randomUUID } from 'node:crypto';

import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit } from '../audit/audit.service.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventEnum } from './payload.js';
import { newSigningSecret, sealSecret } from './signing.js';
import { checkTargetUrl } from './ssrf.js';
import type { WebhookLoaders } from './webhook.loaders.js';
import {
  countEndpoints,
  deleteEndpoint,
  findEndpointPage,
  insertEndpoint,
  lockEndpoint,
  lockEndpointOwner,
  updateEndpoint,
  type KeyedEndpointRow,
} from './webhook.repository.js';
import { webhookSettings } from './webhook.settings.js';
import type { WebhookEndpointRow, WebhookEndpointUpdate } from './webhook.table.js';

/**
 * Webhook endpoints, managed by their owner in person: sellers (who hear
 * about their own orders and products) and admins (who may hear about
 * everything). Another user's endpoint answers exactly like a missing one.
 */

type WebhookScope = Scope<WebhookLoaders>;

/** How long the previous secret still signs after a rotation (both signatures are sent meanwhile). */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;
export const DESCRIPTION_MAX_LENGTH = 500;

/** The viewer who may manage endpoints: a seller or an admin, in person. */
export function ownerOf(scope: Scope) {
  const viewer = scope.viewer;
  // The permission layer refuses everyone else; this guards misuse of the service.
  if (!viewer || viewer.via === 'api_key') throw appError('UNAUTHENTICATED');
  if (viewer.role !== 'SELLER' && viewer.role !== 'ADMIN') throw appError('FORBIDDEN', 'Only sellers and admins manage webhooks.');
  return viewer;
}

/** One of the viewer's endpoints; anyone else's is `null`, like a missing one. */
export async function ownEndpoint(scope: WebhookScope, id: string): Promise<WebhookEndpointRow | null> {
  const viewer = scope.viewer;
  if (!viewer || viewer.via === 'api_key') return null;
  const endpoint = await scope.loaders.webhookEndpointById.load(id);
  return endpoint?.owner_id === viewer.userId ? endpoint : null;
}

/** The user's endpoints, newest first; `null` for anyone but the user in person. */
export async function listEndpoints(scope: WebhookScope, userId: string, args: ConnectionArgs): Promise<Connection<KeyedEndpointRow> | null> {
  const viewer = scope.viewer;
  if (!viewer || viewer.userId !== userId || viewer.via === 'api_key') return null;
  const request = parsePageRequest(args, { name: 'CREATED_AT', kind: 'timestamp', direction: 'DESC' });
  const rows = await findEndpointPage(scope.db, userId, request);
  for (const row of rows) scope.loaders.webhookEndpointById.prime(row.id, row);
  return toConnection(rows, request, () => countEndpoints(scope.db, userId));
}

export interface EndpointResult {
  endpoint: WebhookEndpointRow | null;
  userErrors: UserErrorData[];
}

export interface SecretResult extends EndpointResult {
  /** The signing secret in plaintext: in this payload only, never again. */
  secret: string | null;
}

const notFound = (): EndpointResult => ({ endpoint: null, userErrors: [{ field: ['input', 'endpointId'], code: 'NOT_FOUND', message: 'No such webhook endpoint.' }] });

interface EndpointFields {
  url?: string | null;
  events?: readonly WebhookEventEnum[] | null;
  description?: string | null;
}

/** Checks the fields given; `required` for creation. The values to store, or the problems. */
async function checkFields(scope: Scope, input: EndpointFields, required: boolean) {
  const settings = webhookSettings(scope);
  const check = new InputCheck();
  const errors = check.errors;
  const patch: Pick<WebhookEndpointUpdate, 'url' | 'events' | 'description'> = {};
  if (input.url != null || required) {
    const url = (input.url ?? '').trim();
    const problem = url === '' ? 'Enter the URL that receives the webhooks.' : await checkTargetUrl(url, { allowHttp: settings.allowPrivateTargets, allowPrivate: settings.allowPrivateTargets });
    if (problem) errors.add(['input', 'url'], url === '' ? 'REQUIRED' : 'INVALID', problem);
    else patch.url = url;
  }
  if (input.events != null || required) {
    const events = [...new Set(input.events ?? [])].map((name) => WEBHOOK_EVENT_TYPES[name]);
    if (events.length === 0) errors.add(['input', 'events'], 'REQUIRED', 'Choose at least one event.');
    else patch.events = events;
  }
  if (input.description !== undefined) {
    const description = check.text(['input', 'description'], input.description, { max: DESCRIPTION_MAX_LENGTH, label: 'description' });
    if (description !== undefined) patch.description = description === '' ? null : description;
  }
  return { patch, errors };
}

/** Registers an endpoint for the viewer; its signing secret is in the result, once. */
export async function createWebhookEndpoint(scope: WebhookScope, input: EndpointFields): Promise<SecretResult> {
  const viewer = ownerOf(scope);
  const settings = webhookSettings(scope);
  const { patch, errors } = await checkFields(scope, input, true);
  if (errors.any || !patch.url || !patch.events) return { endpoint: null, secret: null, userErrors: errors.list };
  const { url, events } = patch;
  const secret = newSigningSecret();
  const id = randomUUID();
  const created = await unitOfWork(scope, async (unit) => {
    await lockEndpointOwner(unit.db, viewer.userId);
    if ((await countEndpoints(unit.db, viewer.userId)) >= settings.maxEndpoints) return null;
    const row = await insertEndpoint(unit.db, {
      id,
      owner_id: viewer.userId,
      url,
      events,
      description: patch.description ?? null,
      secret_sealed: sealSecret(scope.deps.auth.keys, id, secret),
    });
    await recordAudit(unit, { action: 'WEBHOOK_ENDPOINT_CREATED', actorId: viewer.userId, targetType: 'WebhookEndpoint', targetId: row.id, metadata: { events } });
    return row;
  });
  if (!created) {
    const message = `An account has at most ${settings.maxEndpoints} webhook endpoints; delete one first.`;
    return { endpoint: null, secret: null, userErrors: [{ field: null, code: 'OUT_OF_RANGE', message }] };
  }
  return { endpoint: created, secret, userErrors: [] };
}

/** Changes an endpoint's URL, events or description (the URL is checked again). */
export async function updateWebhookEndpoint(scope: WebhookScope, input: EndpointFields & { endpointId: string | null }): Promise<EndpointResult> {
  const viewer = ownerOf(scope);
  const found = input.endpointId ? await ownEndpoint(scope, input.endpointId) : null;
  if (!found) return notFound();
  const { patch, errors } = await checkFields(scope, input, false);
  if (errors.any) return { endpoint: null, userErrors: errors.list };
  const endpoint = await unitOfWork(scope, async (unit) => {
    const row = await updateEndpoint(unit.db, found.id, patch);
    await recordAudit(unit, { action: 'WEBHOOK_ENDPOINT_UPDATED', actorId: viewer.userId, targetType: 'WebhookEndpoint', targetId: found.id });
    return row ?? null;
  });
  return endpoint ? { endpoint, userErrors: [] } : notFound();
}

/**
 * A new signing secret, in the result once. The one it replaces keeps
 * signing for `ROTATION_OVERLAP_MS` (each message carries both signatures),
 * so receivers switch without losing a message; a second rotation within
 * the overlap drops the oldest secret at once.
 */
export async function rotateWebhookSecret(scope: WebhookScope, input: { endpointId: string | null }): Promise<SecretResult & { previousSecretExpiresAt: Date | null }> {
  const viewer = ownerOf(scope);
  const found = input.endpointId ? await ownEndpoint(scope, input.endpointId) : null;
  if (!found) return { ...notFound(), secret: null, previousSecretExpiresAt: null };
  const secret = newSigningSecret();
  const expiresAt = new Date(Date.now() + ROTATION_OVERLAP_MS);
  const endpoint = await unitOfWork(scope, async (unit) => {
    const locked = await lockEndpoint(unit.db, found.id);
    if (!locked) return null;
    const row = await updateEndpoint(unit.db, found.id, {
      secret_sealed: sealSecret(scope.deps.auth.keys, found.id, secret),
      previous_secret_sealed: locked.secret_sealed,
      previous_secret_expires_at: expiresAt,
    });
    await recordAudit(unit, { action: 'WEBHOOK_SECRET_ROTATED', actorId: viewer.userId, targetType: 'WebhookEndpoint', targetId: found.id });
    return row ?? null;
  });
  if (!endpoint) return { ...notFound(), secret: null, previousSecretExpiresAt: null };
  return { endpoint, secret, previousSecretExpiresAt: expiresAt, userErrors: [] };
}

/** Turns deliveries to an endpoint off (`enabled: false`) or on again (which clears the reason and the failure run). */
export async function setWebhookEndpointEnabled(scope: WebhookScope, input: { endpointId: string | null }, enabled: boolean): Promise<EndpointResult> {
  const viewer = ownerOf(scope);
  const found = input.endpointId ? await ownEndpoint(scope, input.endpointId) : null;
  if (!found) return notFound();
  const patch: WebhookEndpointUpdate = enabled
    ? { enabled: true, disabled_reason: null, disabled_at: null, failing_since: null }
    : { enabled: false, disabled_reason: 'Disabled by its owner.', disabled_at: new Date() };
  const endpoint = await unitOfWork(scope, async (unit) => {
    const row = await updateEndpoint(unit.db, found.id, patch);
    const action = enabled ? 'WEBHOOK_ENDPOINT_ENABLED' : 'WEBHOOK_ENDPOINT_DISABLED';
    await recordAudit(unit, { action, actorId: viewer.userId, targetType: 'WebhookEndpoint', targetId: found.id });
    return row ?? null;
  });
  return endpoint ? { endpoint, userErrors: [] } : notFound();
}

/** Deletes an endpoint with its deliveries and their log. */
export async function deleteWebhookEndpoint(scope: WebhookScope, input: { endpointId: string | null }): Promise<{ deletedEndpointId: string | null; userErrors: UserErrorData[] }> {
  const viewer = ownerOf(scope);
  const found = input.endpointId ? await ownEndpoint(scope, input.endpointId) : null;
  if (!found) return { deletedEndpointId: null, userErrors: notFound().userErrors };
  await unitOfWork(scope, async (unit) => {
    await deleteEndpoint(unit.db, found.id);
    await recordAudit(unit, { action: 'WEBHOOK_ENDPOINT_DELETED', actorId: viewer.userId, targetType: 'WebhookEndpoint', targetId: found.id });
  });
  return { deletedEndpointId: found.id, userErrors: [] };
}
