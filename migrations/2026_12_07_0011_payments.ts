import { sql, type Kysely } from 'kysely';

/**
 * Payment events (src/modules/payments): one row per inbound payment-provider
 * webhook, keyed by its `webhook-id` (unique: a redelivery of the same message
 * finds the row and changes nothing), with what it did to the order
 * (`outcome`) and the payload as received (bounded by the route's body limit).
 * `order_id` is set only when the order exists; `order_ref` keeps the id as
 * the provider sent it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('payment_events')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('webhook_id', 'text', (col) => col.notNull().unique().check(sql`char_length(webhook_id) between 1 and 255`))
    .addColumn('type', 'text', (col) => col.notNull().check(sql`char_length(type) between 1 and 100`))
    .addColumn('payment_id', 'text', (col) => col.check(sql`char_length(payment_id) <= 255`))
    .addColumn('order_id', 'uuid', (col) => col.references('orders.id').onDelete('set null'))
    .addColumn('order_ref', 'text', (col) => col.check(sql`char_length(order_ref) <= 255`))
    .addColumn('amount', 'bigint')
    .addColumn('currency', 'text', (col) => col.check(sql`char_length(currency) <= 16`))
    .addColumn('outcome', 'text', (col) =>
      col.notNull().check(sql`outcome in ('APPLIED', 'DUPLICATE', 'AMOUNT_MISMATCH', 'UNKNOWN_ORDER', 'ALREADY_FINAL', 'IGNORED')`),
    )
    .addColumn('detail', 'text', (col) => col.check(sql`char_length(detail) <= 1000`))
    .addColumn('occurred_at', 'timestamptz')
    .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('payload', 'jsonb', (col) => col.notNull().check(sql`octet_length(payload::text) <= 131072`))
    .execute();
  // The admins' list (newest first, by outcome or not) and the duplicate check by payment.
  await sql`CREATE INDEX payment_events_received_idx ON payment_events (received_at, id)`.execute(db);
  await sql`CREATE INDEX payment_events_outcome_received_idx ON payment_events (outcome, received_at, id)`.execute(db);
  await sql`CREATE INDEX payment_events_payment_idx ON payment_events (payment_id) WHERE payment_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX payment_events_order_idx ON payment_events (order_id) WHERE order_id IS NOT NULL`.execute(db);
  // Payment expiry (expireUnpaidOrders, src/modules/orders/order-expiry.service.ts) finds the oldest unpaid orders by this.
  await sql`CREATE INDEX orders_pending_payment_created_idx ON orders (created_at, id) WHERE status = 'PENDING_PAYMENT'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX orders_pending_payment_created_idx`.execute(db);
  await db.schema.dropTable('payment_events').execute();
}
