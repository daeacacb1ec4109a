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
 * end) the migration refuses with what to do and changes nothing: the
 * previous migrations stay applied, and the instances keep working on the
 * expanded schema.
 */
// Outside a transaction: the constraint's validation must not hold the lock its addition took.
export const transaction = false;

export async function up(db: Kysely<any>): Promise<void> {
  await setNotNullSafely(db, {
    table: 'products',
    column: 'sold_count',
    refusal: (rows) =>
      `products.sold_count is not backfilled: ${rows} product${rows === 1 ? ' has' : 's have'} no sold count yet. ` +
      'Run the backfill first (npm run db:transition -- backfill products.soldCount, with a worker running, or add --here), then migrate again.',
  });
  await sql`ALTER TABLE products VALIDATE CONSTRAINT products_sold_count_check`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE products ALTER COLUMN sold_count DROP NOT NULL`.execute(db);
}
