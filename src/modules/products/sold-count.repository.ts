/**
 * Units sold per product (`Product.soldCount`): counted from the orders
 * (the old shape, always true) or read from `products.sold_count` (the new
 * one, kept by every stock move), and the backfill's recount that makes the
 * second equal to the first (./sold-count.service.ts).
 *
 * The count reads the orders module's `order_items` and `orders` in the same
 * statement as the products it counts for: a documented exception to the
 * module boundaries (docs/architecture/modules.md), like the review
 * eligibility's, so that a recount is one statement on locked rows.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

import type { Database } from '../../db/database.js';

/** Orders whose units are no longer sold: the customer's or the system's cancellation, and refunds. */
const UNSOLD_STATUSES = ['CANCELLED', 'REFUNDED'] as const;

/** `(id, units)` for each id: the units in its orders that are not cancelled or refunded (0 without any). */
function unitsSold(ids: readonly string[]): RawBuilder<{ id: string; units: number }> {
  return sql<{ id: string; units: number }>`
    SELECT b.id, coalesce(sum(oi.quantity), 0)::integer AS units
      FROM unnest(${[...ids]}::uuid[]) AS b(id)
      LEFT JOIN order_items oi ON oi.product_id = b.id
       AND EXISTS (SELECT 1 FROM orders o WHERE o.id = oi.order_id AND o.status <> ALL(${[...UNSOLD_STATUSES]}::text[]))
     GROUP BY b.id`;
}

/** The units sold of each product, counted from its orders (one statement for any number of ids). */
export async function countUnitsSold(db: Kysely<Database>, ids: readonly string[]): Promise<{ id: string; units: number }[]> {
  if (ids.length === 0) return [];
  const { rows } = await unitsSold(ids).execute(db);
  return rows;
}

/** `products.sold_count` of each product (NULL: not counted yet; no row: no such product). */
export async function findSoldCounts(db: Kysely<Database>, ids: readonly string[]): Promise<{ id: string; sold_count: number | null }[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('products')
    .select(['id', 'sold_count'])
    .where('id', '=', (eb) => eb.fn.any(eb.val([...ids])))
    .execute();
}

/**
 * Locks the next `limit` products after `after` (all from the start when
 * `null`), in id order like every multi-row product lock (stock moves), so
 * the recount that follows sees every stock move that committed before and
 * none can start until this transaction ends. `FOR NO KEY UPDATE`: inserts
 * that only reference a product (a review, a wishlist entry) go on.
 */
export async function lockProductIdsAfter(db: Kysely<Database>, after: string | null, limit: number): Promise<string[]> {
  let query = db.selectFrom('products').select('id').orderBy('id').limit(limit).forNoKeyUpdate();
  if (after !== null) query = query.where('id', '>', after);
  return (await query.execute()).map((row) => row.id);
}

/**
 * Sets `sold_count` of these (locked) products to their units sold counted
 * from their orders, where it differs; returns how many rows changed. A
 * statement of its own after the locks: READ COMMITTED gives it a snapshot
 * taken after them, so a checkout that committed while the batch waited for
 * its row is counted.
 */
export async function recountSoldCounts(db: Kysely<Database>, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await sql`
    UPDATE products AS p
       SET sold_count = c.units
      FROM (${unitsSold(ids)}) AS c
     WHERE p.id = c.id AND p.sold_count IS DISTINCT FROM c.units`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Whether any product is still NULL (not counted): reads cannot switch to the column then. */
export async function anySoldCountMissing(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectNoFrom((eb) => eb.exists(eb.selectFrom('products').select(sql.lit(1).as('one')).where('sold_count', 'is', null)).as('missing'))
    .executeTakeFirstOrThrow();
  return Boolean(row.missing);
}
