import type { Kysely } from 'kysely';

/**
 * A delivery attempt's lease (src/modules/webhooks/attempt.service.ts): the
 * `webhooks.deliver` task claims a delivery in a short transaction
 * (`claimed_by`, `claimed_until`), commits, makes the HTTP call holding no
 * connection, and records the outcome in a second short transaction only if
 * the lease is still its own. It replaces the row lock that an attempt held,
 * with its transaction and a pooled connection, for the whole HTTP call.
 * Both columns are nullable without a default: adding them rewrites nothing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('webhook_deliveries')
    // Who holds the lease: `job:<id>` for the worker's job (a re-run of the same job may take it back), else a one-off token.
    .addColumn('claimed_by', 'text')
    // Until when; another run may take an expired lease.
    .addColumn('claimed_until', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_deliveries').dropColumn('claimed_by').dropColumn('claimed_until').execute();
}
