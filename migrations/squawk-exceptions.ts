/**
 * What the migration lint (`npm run lint:migrations`, src/db/migration-lint.ts)
 * lets pass, each with its reason: the one place for exceptions. An exception
 * names one migration and one squawk rule (and, where the migration has other
 * statements the rule could catch, the statement); one that matches nothing
 * any more fails the lint, so this list never outlives what it excuses.
 *
 * A migration that has run anywhere is never edited (Kysely records it by
 * name and does not run it again), so a finding on an applied migration is
 * excused here rather than fixed there; a new migration is made safe instead
 * (docs/operations/migrations.md).
 */
export interface SquawkException {
  /** The migration's name (its file name without extension). */
  migration: string;
  /** A squawk rule (https://squawkhq.com/docs/rules), or `*`: the migration is not linted at all. */
  rule: string;
  /** Only findings on a statement this matches (the statement as captured); without it, any statement of the migration. */
  statement?: RegExp;
  reason: string;
}

/** Rules off for every migration: style rules, not deploy safety, that this schema answers otherwise. */
export const SQUAWK_EXCLUDED_RULES: readonly { rule: string; reason: string }[] = [
  {
    rule: 'prefer-bigint-over-int',
    reason:
      'Every key is a uuid; integer columns are bounded quantities (stock, quantity, version, attempt counts, prices in minor units, HTTP status codes), most with a CHECK, far from 2^31. Widening one later is its own expand/contract change.',
  },
  {
    rule: 'prefer-bigint-over-smallint',
    reason: 'The one smallint is a review rating, CHECK 1..5.',
  },
];

export const SQUAWK_EXCEPTIONS: readonly SquawkException[] = [
  {
    migration: '2026_11_24_0003_products',
    rule: 'ban-char-field',
    statement: /^create table "products"/,
    reason: 'products.currency is char(3): an ISO 4217 code is exactly three letters (CHECK ^[A-Z]{3}$), so no padding ever happens.',
  },
  {
    migration: '2026_11_24_0004_orders',
    rule: 'ban-char-field',
    statement: /^create table "(orders|order_items)"/,
    reason: 'orders.currency and order_items.currency are char(3): an ISO 4217 code is exactly three letters (CHECK ^[A-Z]{3}$).',
  },
  {
    migration: '2026_12_02_0008_review_writes',
    rule: 'require-concurrent-index-creation',
    statement: /reviews_product_deleted_created_idx/,
    reason:
      'Applied before the lint existed, and an applied migration is not edited. The build blocks review writes (not reads) while it runs; an index on an existing table now uses createIndexConcurrently (src/db/concurrent-index.ts).',
  },
  {
    migration: '2026_12_07_0009_idempotency_credential',
    rule: 'adding-required-field',
    statement: /add column "credential"/,
    reason: 'The migration deletes every idempotency record first, in the same transaction (its comment says why), so the NOT NULL column without a default meets an empty table.',
  },
  {
    migration: '2026_12_07_0009_idempotency_credential',
    rule: 'constraint-missing-not-valid',
    statement: /add constraint "idempotency_keys_pkey" primary key/,
    reason: 'The new primary key is built over the table the same transaction just emptied: the scan and the lock last milliseconds.',
  },
  {
    migration: '2026_12_07_0009_idempotency_credential',
    rule: 'adding-serial-primary-key-field',
    statement: /add constraint "idempotency_keys_pkey" primary key/,
    reason: 'The new primary key is built over the table the same transaction just emptied: the ACCESS EXCLUSIVE lock lasts milliseconds.',
  },
  {
    migration: '2026_12_07_0011_job_queue',
    rule: '*',
    reason:
      "graphile-worker's own migration SQL, applied as its runner applies it (graphile-worker/dist/generated/sql.js): not ours to change. Its breaking migrations lock and rename the queue's tables by design; those tables belong to the worker alone, and a graphile-worker upgrade is reviewed against its release notes instead.",
  },
  {
    migration: '2026_12_08_0017_products_sold_count_not_null',
    rule: 'prefer-robust-stmts',
    statement: /^alter table "?products"? (add constraint "products_sold_count_not_null" check \("sold_count" is not null\) not valid|validate constraint "?products_sold_count_(not_null|check)"?|alter column "sold_count" set not null)$/i,
    reason:
      'Outside a transaction on purpose (VALIDATE must not hold the lock ADD CONSTRAINT took), and safe to run again although squawk cannot see it: setNotNullSafely (src/db/safe-not-null.ts) adds the NOT VALID check only when pg_constraint lacks it, VALIDATE and SET NOT NULL are no-ops the second time, and a failed step drops the check before the error goes up. Validating products_sold_count_check (added NOT VALID by the expand) is idempotent too.',
  },
  {
    migration: '2026_12_08_0018_webhook_deliveries_due',
    rule: 'prefer-robust-stmts',
    statement: /^create index concurrently "webhook_deliveries_due_idx"/i,
    reason:
      'Safe to run again although squawk cannot see it: createIndexConcurrently (src/db/concurrent-index.ts) skips the index when it exists and is valid, and drops one left INVALID by a failed build before building anew (IF NOT EXISTS would keep an invalid one).',
  },
  {
    migration: '2026_12_07_0011_payments',
    rule: 'require-concurrent-index-creation',
    statement: /orders_pending_payment_created_idx/,
    reason:
      'Applied before the lint existed, and an applied migration is not edited. A partial index (pending orders only), but its build still scans orders and blocks order writes while it runs; an index on an existing table now uses createIndexConcurrently (src/db/concurrent-index.ts).',
  },
];
