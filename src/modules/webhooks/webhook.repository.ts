import { sql, type Kysely, type RawBuilder } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJobCall } from '../../jobs/jobs.repository.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, NO_MERGE, parentsOf, scanDirection, scanOrderOf, type KeysetColumns } from '../../pagination/keyset.js';
import type {
  NewWebhookEndpointRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookDeliveryStatus,
  WebhookEndpointRow,
  WebhookEndpointUpdate,
  WebhookEventRow,
} from './webhook.table.js';
import { claimedRow, type ClaimedDelivery, type ClaimRow } from './delivery-claims.repository.js';

export type { ClaimedDelivery } from './delivery-claims.repository.js';

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

/**
 * Deletes an endpoint with its deliveries (their key cascades) and their
 * attempts (no key to cascade by: migrations/2026_12_08_0019), in one
 * statement.
 */
export async function deleteEndpoint(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db
    .with('attempts', (q) =>
      q.deleteFrom('webhook_attempts').where('delivery_id', 'in', (eb) => eb.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', id)),
    )
    .deleteFrom('webhook_endpoints')
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Serialises one owner's registrations (the endpoint limit is counted, then a row added). */
export async function lockEndpointOwner(db: Kysely<Database>, ownerId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`webhook-owner:${ownerId}`}, 0))`.execute(db);
}

/** A domain event as the outbox writes it: its wire type, its body `data`, and who may hear it. */
export interface OutboxEvent {
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  /** Users entitled to hear it (the event's audience). */
  audience: readonly string[];
}

/**
 * The outbox of a unit of work's events, in one statement (one round trip,
 * however many events and endpoints): for each event, the enabled endpoints
 * subscribed to its type that may hear it (those of sellers in its audience,
 * and of admins), then, for the events some endpoint hears, one
 * `webhook_events` row, one `webhook_deliveries` row per such endpoint, and one
 * job (`job`, through `addJobCall`: the job queue's SQL stays in src/jobs)
 * per `job.batchSize` deliveries, its payload `{ deliveryIds }` (without a
 * job, leased to the process's dispatcher: `writeClaimedOutbox`). An event
 * nobody hears writes nothing. Joins `users` for the owner's role and
 * liveness now (a demoted admin, or a deleted owner, hears no more): a known
 * cross-module join at the SQL level, like the API-key lookup's
 * (docs/architecture/modules.md). Returns the deliveries written.
 *
 * The endpoints are found from their owners, by the owner index: the
 * event's audience's (sellers), and the admins' (the users' role index, a
 * handful of rows). Not by subscribed type: when every seller subscribes to
 * `order.created`, that lookup returns every seller's endpoint for each
 * checkout (18 ms at 10,000 endpoints, against 0.3 ms this way).
 */
export async function writeOutbox(
  db: Kysely<Database>,
  events: readonly OutboxEvent[],
  job: { task: string; maxAttempts: number; batchSize: number; payloadExtra: Record<string, unknown> },
): Promise<Array<{ delivery_id: string; event_id: string }>> {
  if (events.length === 0) return [];
  const enqueue = addJobCall({
    task: job.task,
    payload: sql`jsonb_build_object('deliveryIds', b.ids) || ${JSON.stringify(job.payloadExtra)}::jsonb`,
    maxAttempts: job.maxAttempts,
  });
  const result = await sql<{ delivery_id: string; event_id: string }>`
    ${outboxWrites(events)}, jobs AS MATERIALIZED (
      SELECT (${enqueue}).id AS job_id, b.ids
        FROM (SELECT array_agg(n.id) AS ids
                FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / ${job.batchSize}::integer AS batch FROM inserted) n
               GROUP BY n.batch) b
    )
    SELECT d.id AS delivery_id, d.event_id
      FROM inserted d JOIN jobs j ON d.id = ANY (j.ids)`.execute(db);
  return result.rows.map(({ delivery_id, event_id }) => ({ delivery_id, event_id }));
}

/**
 * The outbox as `writeOutbox` writes it, but with no job: each delivery is
 * written claimed already, its lease held by `lease.claimant` for
 * `lease.leaseMs` from the statement's own clock (the in-process dispatcher
 * attempts it after the COMMIT: ./dispatcher.ts). Returns the claimed
 * deliveries with their event and their endpoint as the claim statement
 * does, so the attempt needs no statement of its own before the HTTP call.
 */
export async function writeClaimedOutbox(db: Kysely<Database>, events: readonly OutboxEvent[], lease: { claimant: string; leaseMs: number }): Promise<ClaimedDelivery[]> {
  if (events.length === 0) return [];
  const result = await sql<ClaimRow>`
    ${outboxWrites(events, lease)}
    SELECT d.id, d.attempt_count, d.schedule_start, h.id AS event_id, h.type, h.payload, h.occurred_at,
           e.id AS endpoint_id, e.url, e.enabled, e.disabled_reason, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_expires_at, e.failing_since
      FROM inserted d JOIN heard h ON h.id = d.event_id JOIN webhook_endpoints e ON e.id = d.endpoint_id`.execute(db);
  return result.rows.map(claimedRow);
}

/** The outbox's CTEs, up to `inserted` (the deliveries written, leased to `lease.claimant` when given). */
function outboxWrites(events: readonly OutboxEvent[], lease?: { claimant: string; leaseMs: number }): RawBuilder<unknown> {
  const input = events.map((event, ord) => ({ ord, type: event.type, payload: event.payload, occurred_at: event.occurredAt.toISOString(), audience: [...event.audience] }));
  const [columns, values] = lease
    ? [sql`, claimed_by, claimed_until`, sql`, ${lease.claimant}::text, clock_timestamp() + make_interval(secs => ${lease.leaseMs / 1000})`]
    : [sql``, sql``];
  return sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS i(ord integer, type text, payload jsonb, occurred_at timestamptz, audience text[])
    ), matched AS MATERIALIZED (
      SELECT i.ord, e.id AS endpoint_id
        FROM input i
        JOIN webhook_endpoints e ON e.owner_id = ANY (i.audience::uuid[]) AND e.enabled AND i.type = ANY (e.events)
        JOIN users u ON u.id = e.owner_id AND u.role = 'SELLER' AND u.deleted_at IS NULL
      UNION ALL
      SELECT i.ord, e.id
        FROM input i
        CROSS JOIN users u
        JOIN webhook_endpoints e ON e.owner_id = u.id AND e.enabled AND i.type = ANY (e.events)
       WHERE u.role = 'ADMIN' AND u.deleted_at IS NULL
    ), heard AS MATERIALIZED (
      SELECT i.ord, gen_random_uuid() AS id, i.type, i.payload, i.occurred_at
        FROM input i
       WHERE i.ord IN (SELECT ord FROM matched)
    ), inserted_events AS (
      INSERT INTO webhook_events (id, type, payload, occurred_at)
      SELECT id, type, payload, occurred_at FROM heard
      RETURNING id
    ), planned AS MATERIALIZED (
      SELECT gen_random_uuid() AS id, h.id AS event_id, m.endpoint_id
        FROM matched m JOIN heard h USING (ord)
    ), inserted AS (
      INSERT INTO webhook_deliveries (id, endpoint_id, event_id, next_attempt_at${columns})
      SELECT p.id, p.endpoint_id, p.event_id, now()${values}
        FROM planned p JOIN inserted_events ev ON ev.id = p.event_id
      RETURNING id, event_id, endpoint_id, attempt_count, schedule_start
    )`;
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

export type DeliveryPatch = Partial<
  Pick<WebhookDeliveryRow, 'status' | 'attempt_count' | 'schedule_start' | 'last_status_code' | 'last_duration_ms' | 'last_error' | 'next_attempt_at' | 'delivered_at'>
>;

/**
 * Records an attempt's result on the delivery and ends the lease, only if
 * `claimant` still holds it (nobody took it over after it ended); `undefined`
 * when the lease was lost, and then nothing is written.
 */
export async function settleClaimedDelivery(db: Kysely<Database>, id: string, claimant: string, patch: DeliveryPatch): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set({ ...patch, claimed_by: null, claimed_until: null, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('claimed_by', '=', claimant)
    .returningAll()
    .executeTakeFirst();
}

export async function updateDelivery(db: Kysely<Database>, id: string, patch: DeliveryPatch): Promise<WebhookDeliveryRow | undefined> {
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
  const direction = scanDirection(request);
  // Each endpoint's page: `limit + 1` deliveries in scan order, read from the endpoint's index and cut there.
  const pages = db
    .selectFrom(parentsOf([...endpointIds], endpointIds.length === 1))
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('webhook_deliveries as d')
          .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
          .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
          .selectAll('d')
          .select(['ev.type as event_type', 'e.owner_id'])
          .select(cursorKey(DELIVERY_COLUMNS).as('cursor_key'))
          .whereRef('d.endpoint_id', '=', 'parent.id')
          .$if(status !== null, (qb) => qb.where('d.status', '=', status as WebhookDeliveryStatus))
          .where(keysetCondition(DELIVERY_COLUMNS, request))
          .orderBy('d.created_at', direction)
          .orderBy('d.id', direction)
          .limit(request.limit + 1)
          .as('page'),
      (join) => join.onTrue(),
    )
    .selectAll('page')
    .offset(NO_MERGE);
  return db.selectFrom(pages.as('ranked')).selectAll('ranked').orderBy('ranked.endpoint_id').orderBy(scanOrderOf('ranked', DELIVERY_COLUMNS, request)).execute();
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
