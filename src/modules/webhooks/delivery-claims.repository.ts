/**
 * Claims of webhook deliveries and the record of their 2xx attempts: the
 * statements an attempt runs before and after its HTTP call (a job's claim,
 * the dispatcher's sweep of deliveries a dead process held, one statement
 * per batch of delivered attempts).
 */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { WebhookDeliveryRow, WebhookEndpointRow, WebhookEventRow } from './webhook.table.js';

/** What an attempt needs of a claimed delivery, its event and its endpoint. */
export interface ClaimedDelivery {
  delivery: Pick<WebhookDeliveryRow, 'id' | 'attempt_count' | 'schedule_start'>;
  event: Pick<WebhookEventRow, 'id' | 'type' | 'payload' | 'occurred_at'>;
  endpoint: Pick<
    WebhookEndpointRow,
    'id' | 'url' | 'enabled' | 'disabled_reason' | 'secret_sealed' | 'previous_secret_sealed' | 'previous_secret_expires_at' | 'failing_since'
  >;
}

/** A claim statement: deliveries (filtered by the caller) leased to `claimant` for `leaseMs`, joined with their event and endpoint. */
function leaseToClaimant(db: Kysely<Database>, claimant: string, leaseMs: number) {
  return db
    .updateTable('webhook_deliveries as d')
    .from(['webhook_events as ev', 'webhook_endpoints as e'])
    .set({ claimed_by: claimant, claimed_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
    .whereRef('ev.id', '=', 'd.event_id')
    .whereRef('e.id', '=', 'd.endpoint_id');
}

/** What a claim statement returns of a delivery and its event, and of its endpoint (`claimedRow` reads them). */
const CLAIMED_DELIVERY_COLUMNS = ['d.id', 'd.attempt_count', 'd.schedule_start', 'ev.id as event_id', 'ev.type', 'ev.payload', 'ev.occurred_at'] as const;
const CLAIMED_ENDPOINT_COLUMNS = [
  'e.id as endpoint_id',
  'e.url',
  'e.enabled',
  'e.disabled_reason',
  'e.secret_sealed',
  'e.previous_secret_sealed',
  'e.previous_secret_expires_at',
  'e.failing_since',
] as const;

/**
 * Takes the lease of each of the pending deliveries `ids` that is due
 * (`next_attempt_at` has come) for `claimant` until `leaseMs` from now, in one
 * statement (atomic without a transaction; it locks nothing once done): only
 * those nobody holds, whose holder's lease has ended, or that `claimant`
 * holds already (a re-run of the same job). Returns them with their event and
 * endpoint as they are now; the others (not pending, not due, gone, or
 * another holder's lease runs) are left out.
 */
export async function claimDeliveries(db: Kysely<Database>, ids: readonly string[], claimant: string, leaseMs: number): Promise<ClaimedDelivery[]> {
  if (ids.length === 0) return [];
  const rows = await leaseToClaimant(db, claimant, leaseMs)
    .where('d.id', '=', (eb) => eb.fn.any(eb.val([...ids])))
    .where('d.status', '=', 'PENDING')
    .where((eb) => eb.or([eb('d.next_attempt_at', 'is', null), eb('d.next_attempt_at', '<=', sql<Date>`now()`)]))
    .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', sql<Date>`now()`), eb('d.claimed_by', '=', claimant)]))
    .returning(CLAIMED_DELIVERY_COLUMNS)
    .returning(CLAIMED_ENDPOINT_COLUMNS)
    .execute();
  return rows.map(claimedRow);
}

/** A claim statement's row, as a claimed delivery with its event and endpoint. */
export type ClaimRow = ClaimedDelivery['delivery'] &
  Omit<ClaimedDelivery['endpoint'], 'id'> &
  Pick<ClaimedDelivery['event'], 'type' | 'payload' | 'occurred_at'> & { event_id: string; endpoint_id: string };

export const claimedRow = (row: ClaimRow): ClaimedDelivery => ({
  delivery: { id: row.id, attempt_count: row.attempt_count, schedule_start: row.schedule_start },
  event: { id: row.event_id, type: row.type, payload: row.payload, occurred_at: row.occurred_at },
  endpoint: {
    id: row.endpoint_id,
    url: row.url,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    secret_sealed: row.secret_sealed,
    previous_secret_sealed: row.previous_secret_sealed,
    previous_secret_expires_at: row.previous_secret_expires_at,
    failing_since: row.failing_since,
  },
});

/**
 * The sweep's claim: up to `limit` pending deliveries that have been due for
 * `graceMs` or longer and that nobody holds (no lease, or an ended one),
 * oldest first, leased to `claimant` for `leaseMs`, in one statement (atomic
 * without a transaction). It reads the partial index of pending deliveries
 * (migrations/2026_12_08_0018_webhook_deliveries_due.ts) and locks what it
 * takes with SKIP LOCKED: two sweeps at once never take the same delivery
 * (one skips the rows the other is taking; a row the other took meanwhile
 * is read again under its lock and no longer qualifies).
 */
export async function claimOrphanedDeliveries(db: Kysely<Database>, claimant: string, leaseMs: number, graceMs: number, limit: number): Promise<ClaimedDelivery[]> {
  const rows = await leaseToClaimant(db, claimant, leaseMs)
    .where('d.id', 'in', (eb) =>
      eb
        .selectFrom('webhook_deliveries as o')
        .select('o.id')
        .where('o.status', '=', 'PENDING')
        .where('o.next_attempt_at', '<=', sql<Date>`now() - make_interval(secs => ${graceMs / 1000})`)
        .where((w) => w.or([w('o.claimed_until', 'is', null), w('o.claimed_until', '<=', sql<Date>`now()`)]))
        .orderBy('o.next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returning(CLAIMED_DELIVERY_COLUMNS)
    .returning(CLAIMED_ENDPOINT_COLUMNS)
    .execute();
  return rows.map(claimedRow);
}

/** A 2xx attempt to record: the delivery, its lease holder, and the attempt. */
export interface DeliveredAttempt {
  deliveryId: string;
  claimant: string;
  /** The attempt's number (the delivery's `attempt_count` after it). */
  number: number;
  startedAt: Date;
  deliveredAt: Date;
  statusCode: number;
  durationMs: number;
}

/**
 * Records 2xx attempts in one statement (atomic without a transaction): each
 * delivery whose lease `claimant` still holds becomes DELIVERED with its lease
 * ended, its attempt joins the log, and its endpoint's run of failures ends
 * (`failing_since` cleared; an endpoint without one is not written). Returns
 * the ids recorded; a delivery whose lease was lost (another run took it
 * over) is left as it is, its attempt not logged. The ids are also given as
 * an array: from the input's rows alone (a function scan the planner takes
 * for 100 rows) it scans the whole deliveries table instead of its key.
 */
export async function recordDeliveredAttempts(db: Kysely<Database>, attempts: readonly DeliveredAttempt[]): Promise<string[]> {
  if (attempts.length === 0) return [];
  const input = attempts.map((attempt) => ({
    id: attempt.deliveryId,
    claimant: attempt.claimant,
    number: attempt.number,
    started_at: attempt.startedAt.toISOString(),
    delivered_at: attempt.deliveredAt.toISOString(),
    status_code: attempt.statusCode,
    duration_ms: attempt.durationMs,
  }));
  const result = await sql<{ id: string }>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        AS i(id uuid, claimant text, number integer, started_at timestamptz, delivered_at timestamptz, status_code integer, duration_ms integer)
    ), settled AS (
      UPDATE webhook_deliveries d
         SET status = 'DELIVERED', attempt_count = i.number, last_status_code = i.status_code, last_duration_ms = i.duration_ms,
             last_error = NULL, next_attempt_at = NULL, delivered_at = i.delivered_at, claimed_by = NULL, claimed_until = NULL, updated_at = now()
        FROM input i
       WHERE d.id = ANY (${attempts.map((attempt) => attempt.deliveryId)}::uuid[]) AND d.id = i.id AND d.claimed_by = i.claimant
      RETURNING d.id, d.endpoint_id, i.number, i.started_at, i.status_code, i.duration_ms
    ), logged AS (
      INSERT INTO webhook_attempts (delivery_id, number, started_at, status_code, duration_ms, error, next_attempt_at)
      SELECT id, number, started_at, status_code, duration_ms, NULL, NULL FROM settled
    ), healthy AS (
      UPDATE webhook_endpoints e SET failing_since = NULL
       WHERE e.id IN (SELECT endpoint_id FROM settled) AND e.failing_since IS NOT NULL
    )
    SELECT id FROM settled`.execute(db);
  return result.rows.map((row) => row.id);
}
