import { sql, type Kysely } from 'kysely';

/**
 * Expand: `products.sold_count`, the units sold of each product (units in
 * its orders, less those of cancelled and refunded orders), so that
 * `Product.soldCount` is a column of the row the catalogue already reads
 * instead of an aggregate over `order_items` per page. The worked example
 * of docs/operations/migrations.md; its phases:
 *
 * 1. this migration: the column, nullable. NULL means "not counted yet";
 *    every existing row starts so. Three catalogue-only changes, each an
 *    ACCESS EXCLUSIVE lock held for milliseconds (no rewrite, no scan):
 *    - the column without a default (a default would be copied into every
 *      existing row's meaning: "0 sold", which is false);
 *    - then the default 0, which applies to rows inserted from now on only
 *      (a new product has sold nothing), so code that does not know the
 *      column (the previous release) still inserts correct rows;
 *    - a CHECK (sold_count >= 0) added NOT VALID: it holds for every write
 *      from now on, without scanning the table under the lock;
 * 2. the services write the column with every stock move (checkout,
 *    cancellation, refund) once the instance sees this migration applied
 *    (src/transitions/);
 * 3. the `products.backfillSoldCount` job counts every product from
 *    `order_items`, in batches (src/modules/products/sold-count.service.ts);
 * 4. reads switch to the column (`npm run db:transition -- switch products.soldCount`);
 * 5. contract: 2026_12_08_0017_products_sold_count_not_null.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE products ADD COLUMN sold_count integer`.execute(db);
  await sql`ALTER TABLE products ALTER COLUMN sold_count SET DEFAULT 0`.execute(db);
  await sql`ALTER TABLE products ADD CONSTRAINT products_sold_count_check CHECK (sold_count >= 0) NOT VALID`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE products DROP COLUMN sold_count`.execute(db);
  // Its backfill's progress and switched reads described the dropped column.
  await sql`DELETE FROM schema_transitions WHERE name = 'products.soldCount'`.execute(db);
}
