import { sql, type Kysely } from 'kysely';

import { setNotNullSafely } from '../src/db/safe-not-null.js';

/**
 * Contract of `products.sold_count` (the expand is
 * 2026_12_08_0016_products_sold_count): every product has been counted, so
 * the column becomes NOT NULL and its `>= 0` check is validated, each
 * without a long exclusive lock (src/db/safe-not-null.ts: CHECK NOT VALID,
 * VALIDATE, then SET NOT NULL, each in a transaction of its own).
 *
 * While any product is still NULL (its backfill has not run, or not to the
 * end) it waits (`waitsFor`, src/db/migrator.ts): a migration run stops
 * before it without an error, saying what to do, and readiness does not
 * wait for it, so a deploy of the release that brings the expand goes on
 * and its instances run on the expanded schema. The next run after the
 * backfill applies it. If a product were NULL again by the time it runs,
 * it refuses and changes nothing.
 */
// Outside a transaction: the constraint's validation must not hold the lock its addition took.
export const transaction = false;

const TO_DO = 'run the backfill first (npm run db:transition -- backfill products.soldCount, with a worker running, or add --here), then migrate again';

export async function waitsFor(db: Kysely<any>): Promise<string | undefined> {
  const { rows } = await sql<{ missing: boolean }>`SELECT EXISTS (SELECT 1 FROM products WHERE sold_count IS NULL) AS missing`.execute(db);
  return rows[0]?.missing ? `products.sold_count is not backfilled yet: ${TO_DO}` : undefined;
}

export async function up(db: Kysely<any>): Promise<void> {
  await setNotNullSafely(db, {
    table: 'products',
    column: 'sold_count',
    refusal: (rows) => `products.sold_count is not backfilled: ${rows} product${rows === 1 ? ' has' : 's have'} no sold count yet; ${TO_DO}.`,
  });
  await sql`ALTER TABLE products VALIDATE CONSTRAINT products_sold_count_check`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE products ALTER COLUMN sold_count DROP NOT NULL`.execute(db);
}
