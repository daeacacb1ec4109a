/** Stock moves on product rows (stock.service.ts): locking in id order, taking and returning quantities, counting units sold. */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { PRODUCT_COLUMNS } from './product.repository.js';
import type { ProductRow } from './product.table.js';

/** A quantity of one product, for stock moves. */
export interface StockLine {
  productId: string;
  quantity: number;
}

/**
 * Locks the rows of these products (`FOR UPDATE`) in ascending id order and
 * returns them. Every writer that locks several products goes through here,
 * so two transactions always take their locks in the same order and cannot
 * deadlock on each other. PostgreSQL locks rows as the sorted scan returns
 * them (the lock step runs above the sort), so the order is the ORDER BY.
 */
export async function lockProductsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('products as p').select(PRODUCT_COLUMNS).where('p.id', 'in', ids).orderBy('p.id').forUpdate().execute();
}

function stockValues(lines: readonly StockLine[]) {
  const sorted = [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
  return sql.join(sorted.map((line) => sql`(${line.productId}::uuid, ${line.quantity}::integer)`));
}

/**
 * Takes the quantities from stock in one statement, each only if enough is
 * left (`stock >= quantity`), bumping version and `updated_at`; with
 * `countSold`, `sold_count` grows by the same quantities (the dual-write of
 * ./sold-count.service.ts; a NULL count stays NULL for the backfill).
 * Returns the changed rows: fewer than the lines when some had too little.
 */
export async function decrementStock(db: Kysely<Database>, lines: readonly StockLine[], { countSold }: { countSold: boolean }): Promise<ProductRow[]> {
  if (lines.length === 0) return [];
  const sold = countSold ? sql`, sold_count = p.sold_count + v.quantity` : sql``;
  const result = await sql<ProductRow>`
    UPDATE products AS p
       SET stock = p.stock - v.quantity${sold}, version = p.version + 1, updated_at = now()
      FROM (VALUES ${stockValues(lines)}) AS v(id, quantity)
     WHERE p.id = v.id AND p.stock >= v.quantity
    RETURNING ${sql.join(PRODUCT_COLUMNS.map((column) => sql.ref(column)))}`.execute(db);
  return result.rows;
}

/**
 * Undoes sales on locked rows in one statement: with `restock` the
 * quantities go back on sale (deleted products too: the rows stay
 * consistent), bumping version and `updated_at`; with `uncountSold`,
 * `sold_count` shrinks by them (a NULL count stays NULL). Returns the rows.
 */
export async function undoSales(
  db: Kysely<Database>,
  lines: readonly StockLine[],
  { restock, uncountSold }: { restock: boolean; uncountSold: boolean },
): Promise<ProductRow[]> {
  if (lines.length === 0 || (!restock && !uncountSold)) return [];
  const changes = [
    ...(restock ? [sql`stock = p.stock + v.quantity`, sql`version = p.version + 1`, sql`updated_at = now()`] : []),
    // NULL (not counted yet) stays NULL for the backfill; never below 0, so that a count gone wrong (rows written behind the
    // services' back) cannot block a cancellation or a refund: a backfill --restart recounts it.
    ...(uncountSold ? [sql`sold_count = p.sold_count - least(p.sold_count, v.quantity)`] : []),
  ];
  const result = await sql<ProductRow>`
    UPDATE products AS p
       SET ${sql.join(changes)}
      FROM (VALUES ${stockValues(lines)}) AS v(id, quantity)
     WHERE p.id = v.id
    RETURNING ${sql.join(PRODUCT_COLUMNS.map((column) => sql.ref(column)))}`.execute(db);
  return result.rows;
}
