import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, rowNumberPerParent, scanDirection, type KeysetColumns } from '../../pagination/keyset.js';
import type {
  NewWebhookEndpointRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookDeliveryStatus,
  WebhookEndpointRow,
  WebhookEndpointUpdate,
  WebhookEventRow,
} from './webhook.table.js';

export type KeyedEndpointRow = WebhookEndpointRow & { cursor_key: string };
/** A delivery with its event's wire type (the list shows it) and its endpoint's owner (the permission layer checks it). */
export type DeliveryWithType = WebhookDeliveryRow & { event_type: string; owner_id: string };
export type KeyedDeliveryRow = DeliveryWithType & { cursor_key: string };

const ENDPOINT_COLUMNS: KeysetColumns = { key: 'e.created_at', id: 'e.id' };
const DELIVERY_COLUMNS: KeysetColumns = { key: 'd.created_at', id: 'd.id' };

// --- Endpoints

export async function insertEndpoint(db: Kysely<Database>, row: NewWebhookEndpointRow & { id: string }): Promise<WebhookEndpointRow> {
  return db.insertInto('webhook_endpoints').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findEndpointsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<WebhookEndpointRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute();
}

/** The endpoint, locked for the rest of the transaction (rotation, deliveries that change its health). */
export async function lockEndpoint(db: Kysely<Database>, id: string): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function findEndpointPage(db: Kysely<Database>, ownerId: string, request: PageRequest): Promise<KeyedEndpointRow[]> {
  const direction = scanDirection(request);
  return db
    .selectFrom('webhook_endpoints as e')
    .selectAll('e')
    .select(cursorKey(ENDPOINT_COLUMNS).as('cursor_key'))
    .where('e.owner_id', '=', ownerId)
    .where(keysetCondition(ENDPOINT_COLUMNS, request))
    .orderBy('e.created_at', direction)
    .orderBy('e.id', direction)
    .limit(request.limit + 1)
    .execute();
}

export async function countEndpoints(db: Kysely<Database>, ownerId: string): Promise<number> {
  const row = await db.selectFrom('webhook_endpoints').select((eb) => eb.fn.countAll<string>().as('n')).where('owner_id', '=', ownerId).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function updateEndpoint(db: Kysely<Database>, id: string, patch: WebhookEndpointUpdate): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set({ ...patch, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteEndpoint(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Serialises one owner's registrations (the endpoint limit is counted, then a row added). */
export async function lockEndpointOwner(db: Kysely<Database>, ownerId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`webhook-owner:${ownerId}`}, 0))`.execute(db);
}

/**
 * Enabled endpoints subscribed to an event type that may hear it: those of
 * the event's audience, and those of admins (who may subscribe to all). Joins
 * `users` for the owner's role and liveness now (a demoted admin, or a
 * deleted owner, hears no more): a known cross-module join at the SQL level,
 * like the API-key lookup's (docs/architecture/modules.md).
 */
export async function findSubscribedEndpoints(db: Kysely<Database>, type: string, audience: readonly string[]): Promise<WebhookEndpointRow[]> {
  return db
    .selectFrom('webhook_endpoints as e')
    .innerJoin('users as u', 'u.id', 'e.owner_id')
    .selectAll('e')
    .where('e.enabled', '=', true)
    .where(sql<boolean>`e.events @> ARRAY[${type}]::text[]`)
    .where('u.deleted_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('u.role', '=', 'ADMIN'),
        eb.and([eb('u.role', '=', 'SELLER'), eb('e.owner_id', '=', eb.fn.any(eb.val([...audience])))]),
      ]),
    )
    .execute();
}

// --- Events and deliveries

export async function insertEvent(db: Kysely<Database>, row: { type: string; payload: Record<string, unknown>; occurred_at: Date }): Promise<WebhookEventRow> {
  return db
    .insertInto('webhook_events')
    .values({ type: row.type, payload: JSON.stringify(row.payload) as unknown as Record<string, unknown>, occurred_at: row.occurred_at })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertDeliveries(db: Kysely<Database>, eventId: string, endpointIds: readonly string[], nextAttemptAt: Date): Promise<WebhookDeliveryRow[]> {
  if (endpointIds.length === 0) return [];
  return db
    .insertInto('webhook_deliveries')
    .values(endpointIds.map((endpointId) => ({ endpoint_id: endpointId, event_id: eventId, next_attempt_at: nextAttemptAt })))
    .returningAll()
    .execute();
}

export async function findDeliveriesByIds(db: Kysely<Database>, ids: readonly string[]): Promise<DeliveryWithType[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .selectAll('d')
    .select(['ev.type as event_type', 'e.owner_id'])
    .where('d.id', 'in', ids)
    .execute();
}

/** The delivery, its event and its endpoint, the delivery row locked; `undefined` when another worker holds it or it is gone. */
export async function claimDelivery(
  db: Kysely<Database>,
  id: string,
): Promise<{ delivery: WebhookDeliveryRow; event: WebhookEventRow; endpoint: WebhookEndpointRow } | undefined> {
  const delivery = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).forUpdate().skipLocked().executeTakeFirst();
  if (!delivery) return undefined;
  const event = await db.selectFrom('webhook_events').selectAll().where('id', '=', delivery.event_id).executeTakeFirstOrThrow();
  const endpoint = await db.selectFrom('webhook_endpoints').selectAll().where('id', '=', delivery.endpoint_id).executeTakeFirstOrThrow();
  return { delivery, event, endpoint };
}

export async function updateDelivery(
  db: Kysely<Database>,
  id: string,
  patch: Partial<Pick<WebhookDeliveryRow, 'status' | 'attempt_count' | 'schedule_start' | 'last_status_code' | 'last_duration_ms' | 'last_error' | 'next_attempt_at' | 'delivered_at'>>,
): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set({ ...patch, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function insertAttempt(db: Kysely<Database>, row: WebhookAttemptRow): Promise<void> {
  await db.insertInto('webhook_attempts').values(row).execute();
}

export async function findAttemptsByDeliveryIds(db: Kysely<Database>, ids: readonly string[]): Promise<WebhookAttemptRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('number').execute();
}

/** One page of deliveries (`limit + 1` rows in scan order) for each endpoint, in one statement, optionally of one status. */
export async function findDeliveryPages(
  db: Kysely<Database>,
  endpointIds: readonly string[],
  request: PageRequest,
  status: WebhookDeliveryStatus | null,
): Promise<KeyedDeliveryRow[]> {
  if (endpointIds.length === 0) return [];
  const ranked = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .selectAll('d')
    .select(['ev.type as event_type', 'e.owner_id'])
    .select(cursorKey(DELIVERY_COLUMNS).as('cursor_key'))
    .select(rowNumberPerParent('d.endpoint_id', DELIVERY_COLUMNS, request).as('rn'))
    .where('d.endpoint_id', '=', (eb) => eb.fn.any(eb.val([...endpointIds])))
    .$if(status !== null, (qb) => qb.where('d.status', '=', status as WebhookDeliveryStatus))
    .where(keysetCondition(DELIVERY_COLUMNS, request));
  const rows = await db
    .selectFrom(ranked.as('ranked'))
    .selectAll('ranked')
    .where('ranked.rn', '<=', request.limit + 1)
    .orderBy('ranked.endpoint_id')
    .orderBy('ranked.rn')
    .execute();
  return rows.map(({ rn: _rn, ...row }) => row);
}

export async function countDeliveries(db: Kysely<Database>, endpointId: string, status: WebhookDeliveryStatus | null): Promise<number> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('endpoint_id', '=', endpointId)
    .$if(status !== null, (qb) => qb.where('status', '=', status as WebhookDeliveryStatus))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Starts the endpoint's run of failures (keeps an earlier start); the row as it is now. */
export async function markEndpointFailing(db: Kysely<Database>, id: string, since: Date): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql<Date>`coalesce(failing_since, ${since}::timestamptz)` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Ends the endpoint's run of failures (a 2xx arrived). */
export async function markEndpointHealthy(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable('webhook_endpoints').set({ failing_since: null }).where('id', '=', id).where('failing_since', 'is not', null).execute();
}

// --- Re-sealing secrets after a signing-key rotation

/** Endpoints after `afterId` (in id order) with a secret sealed under another key than `currentPrefix`, locked, skipping locked ones. */
export async function lockEndpointsSealedUnderOtherKeys(db: Kysely<Database>, currentPrefix: string, afterId: string | null, limit: number): Promise<WebhookEndpointRow[]> {
  const pattern = `${currentPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  let query = db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where((eb) => eb.or([eb('secret_sealed', 'not like', pattern), eb.and([eb('previous_secret_sealed', 'is not', null), eb('previous_secret_sealed', 'not like', pattern)])]));
  if (afterId !== null) query = query.where('id', '>', afterId);
  return query.orderBy('id').limit(limit).forUpdate().skipLocked().execute();
}

export async function storeSealedSecrets(db: Kysely<Database>, id: string, sealed: { secret_sealed: string; previous_secret_sealed: string | null }): Promise<void> {
  await db.updateTable('webhook_endpoints').set(sealed).where('id', '=', id).execute();
}
