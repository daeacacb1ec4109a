import { sql, type Kysely } from 'kysely';

/**
 * Outbound webhooks (src/modules/webhooks): endpoints, the events recorded
 * for them, one delivery per (event, endpoint) and the log of its attempts.
 *
 * - The signing secrets are sealed (AES-256-GCM, `v1.<kid>.<iv>.<body>`),
 *   never stored in plaintext; during a rotation the previous one is kept
 *   with the time it stops signing.
 * - `failing_since` is the lasting health of an endpoint (every worker reads
 *   it); `disabled_reason` is what its owner sees once it is turned off.
 * - Deleting an endpoint deletes its deliveries and their attempts; a
 *   deleted owner takes their endpoints along.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('url', 'text', (col) => col.notNull().check(sql`char_length(url) <= 2048`))
    .addColumn('description', 'text', (col) => col.check(sql`char_length(description) <= 500`))
    .addColumn('events', sql`text[]`, (col) => col.notNull())
    .addColumn('secret_sealed', 'text', (col) => col.notNull())
    .addColumn('previous_secret_sealed', 'text')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('disabled_reason', 'text')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('failing_since', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  // The owner's list (newest first) and the event sink's lookup of enabled endpoints.
  await sql`CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_id, created_at, id)`.execute(db);
  await sql`CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints USING gin (events) WHERE enabled`.execute(db);

  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('occurred_at', 'timestamptz', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('endpoint_id', 'uuid', (col) => col.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (col) => col.notNull().references('webhook_events.id').onDelete('cascade'))
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('PENDING').check(sql`status IN ('PENDING', 'DELIVERED', 'FAILED')`))
    .addColumn('attempt_count', 'integer', (col) => col.notNull().defaultTo(0))
    // attempt_count when the current retry schedule began (a redelivery starts a new one).
    .addColumn('schedule_start', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('last_status_code', 'integer')
    .addColumn('last_duration_ms', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id)`.execute(db);
  await sql`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`.execute(db);

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('delivery_id', 'uuid', (col) => col.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('number', 'integer', (col) => col.notNull())
    .addColumn('started_at', 'timestamptz', (col) => col.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('duration_ms', 'integer', (col) => col.notNull())
    .addColumn('error', 'text')
    .addColumn('next_attempt_at', 'timestamptz')
    .addPrimaryKeyConstraint('webhook_attempts_pkey', ['delivery_id', 'number'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_attempts').execute();
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhook_events').execute();
  await db.schema.dropTable('webhook_endpoints').execute();
}
