import type { Kysely } from 'kysely';

import { createIndexConcurrently, dropIndexConcurrentlyInMigration } from '../src/db/concurrent-index.js';

/**
 * The pending deliveries by when they are due, for the webhook dispatcher's
 * sweep (src/modules/webhooks/dispatcher.ts): every few seconds each worker
 * looks for deliveries that have been due for a while and that nobody holds
 * (their process died between the commit and the attempt), without scanning
 * the deliveries already made. Partial: a delivery leaves it when it is
 * delivered or fails for good, so it holds the backlog, not the history.
 */
// Outside a transaction (CREATE INDEX CONCURRENTLY): the runner retries it from the start, so it must be safe to run twice.
export const transaction = false;

/**
 * Never waits, but declared so that readiness does not count it while it is
 * pending (src/db/migrator.ts `mayWait`): the code runs without the index
 * (the sweep then scans the table). It matters when it sorts after a
 * contract that waits for its backfill (2026_12_08_0017): it cannot run
 * before that one, and instances must not be unready meanwhile.
 */
export async function waitsFor(): Promise<string | undefined> {
  return undefined;
}

export async function up(db: Kysely<any>): Promise<void> {
  await createIndexConcurrently(db, { name: 'webhook_deliveries_due_idx', on: "ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING'" });
}

export async function down(db: Kysely<any>): Promise<void> {
  await dropIndexConcurrentlyInMigration(db, 'webhook_deliveries_due_idx');
}
