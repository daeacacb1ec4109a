import { sql, type Kysely } from 'kysely';

import { createIndexConcurrently, dropIndexConcurrentlyInMigration } from '../src/db/concurrent-index.js';

/**
 * The webhook outbox's log rows keep their keys without foreign keys between
 * them: `webhook_deliveries.event_id` (to `webhook_events`) and
 * `webhook_attempts.delivery_id` (to `webhook_deliveries`).
 *
 * Each check cost a row lock on the row it names (`SELECT ... FOR KEY
 * SHARE`, with its WAL record) for every delivery the outbox writes and every
 * attempt recorded: about half of what the database spends on a checkout's
 * webhooks (docs/operations/performance.md, "Webhooks: what a checkout
 * pays"). What they guarded is held by the only code that writes these rows
 * (src/modules/webhooks): an event and its deliveries are written by one
 * statement, an attempt by the statement that settles its delivery, no key
 * is ever updated, events are never deleted, and deleting an endpoint
 * deletes its deliveries' attempts in the same statement
 * (`deleteEndpoint`). The endpoint's own key on its deliveries
 * (`ON DELETE CASCADE`) stays: endpoints are deleted by their owners.
 *
 * Code before this migration runs on either schema: it wrote the same rows,
 * and its endpoint deletion leaves at worst attempts nobody can read (their
 * delivery gone), which the next deletion of the same endpoint's rows never
 * meets. Dropping a constraint takes each table's lock for an instant; the
 * migrator's lock timeout and retries cover a busy table.
 *
 * The index of deliveries by event (`webhook_deliveries_event_idx`) served
 * only the events' key (a cascade from an event needs it): no statement
 * looks deliveries up by event, so it goes too, one index entry fewer for
 * every delivery written and every attempt that settles it.
 */
// Outside a transaction (DROP INDEX CONCURRENTLY): every step is safe to run again (IF EXISTS), and the runner retries from the start.
export const transaction = false;

/**
 * Never waits, but declared so that readiness does not count it while it is
 * pending (src/db/migrator.ts `mayWait`): the code runs on either schema
 * (above). Like 2026_12_08_0018, it sorts after a contract that may wait for
 * its backfill (2026_12_08_0017), and instances must stay ready meanwhile.
 */
export async function waitsFor(): Promise<string | undefined> {
  return undefined;
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_event_id_fkey`.execute(db);
  await sql`ALTER TABLE webhook_attempts DROP CONSTRAINT IF EXISTS webhook_attempts_delivery_id_fkey`.execute(db);
  await dropIndexConcurrentlyInMigration(db, 'webhook_deliveries_event_idx');
}

/** The keys back, checked without holding the write lock over the scan: NOT VALID, then VALIDATE. */
export async function down(db: Kysely<any>): Promise<void> {
  await createIndexConcurrently(db, { name: 'webhook_deliveries_event_idx', on: 'ON webhook_deliveries (event_id)' });
  await sql`DELETE FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)`.execute(db);
  await sql`ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES webhook_events (id) ON DELETE CASCADE NOT VALID`.execute(db);
  await sql`ALTER TABLE webhook_deliveries VALIDATE CONSTRAINT webhook_deliveries_event_id_fkey`.execute(db);
  await sql`ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE NOT VALID`.execute(db);
  await sql`ALTER TABLE webhook_attempts VALIDATE CONSTRAINT webhook_attempts_delivery_id_fkey`.execute(db);
}
