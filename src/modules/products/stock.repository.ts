/** Stock moves on product rows (stock.service.ts): locking in id order, taking and returning quantities, counting units sold. */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { compilableSql, shapedStatement } from '../../db/shaped.js';
import { PRODUCT_COLUMNS } from './product.repository.js';
import type { ProductRow } from './product.table.js';

/** A quantity of one product, for stock moves. */
export interface StockLine {
  productId: string;
  quantity: number;
}

/** Every checkout and restock locks its products: compiled once (src/db/shaped.ts), the ids one array parameter. */
const lockProducts = shapedStatement('products.lockForStock', (db, _shape: null, v: { ids: string[] }) =>
  db
    .selectFrom('products as p')
    .select(PRODUCT_COLUMNS)
    .where('p.id', '=', (eb) => eb.fn.any(eb.val(v.ids)))
    .orderBy('p.id')
    .forUpdate(),
);

/**
 * Locks the rows of these products (`FOR UPDATE`) in ascending id order and
 * returns them. Every writer that locks several products goes through here,
 * so two transactions always take their locks in the same order and cannot
 * deadlock on each other. PostgreSQL locks rows as the sorted scan returns
 * them (the lock step runs above the sort), so the order is the ORDER BY.
 */
export async function lockProductsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  return lockProducts(db, null, { ids: [...ids] });
}

/** The lines as two arrays in product id order (one parameter each: the same statement text for any number of lines). */
function stockArrays(lines: readonly StockLine[]): { productIds: string[]; quantities: number[] } {
  const sorted = [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
  return { productIds: sorted.map((line) => line.productId), quantities: sorted.map((line) => line.quantity) };
}

const RETURNED_COLUMNS = sql.join(PRODUCT_COLUMNS.map((column) => sql.ref(column)));

const takeFromStock = shapedStatement(
  'products.takeStock',
  (db, shape: { countSold: boolean }, v: { productIds: string[]; quantities: number[] }) =>
    compilableSql(
      db,
      sql<ProductRow>`
        UPDATE products AS p
           SET stock = p.stock - v.quantity${shape.countSold ? sql`, sold_count = p.sold_count + v.quantity` : sql``}, version = p.version + 1, updated_at = now()
          FROM unnest(${v.productIds}::uuid[], ${v.quantities}::integer[]) AS v(id, quantity)
         WHERE p.id = v.id AND p.stock >= v.quantity
        RETURNING ${RETURNED_COLUMNS}`,
    ),
);

const undoSalesStatement = shapedStatement(
  'products.undoSales',
  (db, shape: { restock: boolean; uncountSold: boolean }, v: { productIds: string[]; quantities: number[] }) =>
    compilableSql(
      db,
      sql<ProductRow>`
        UPDATE products AS p
           SET ${sql.join([
             ...(shape.restock ? [sql`stock = p.stock + v.quantity`, sql`version = p.version + 1`, sql`updated_at = now()`] : []),
             // NULL (not counted yet) stays NULL for the backfill; never below 0, so that a count gone wrong (rows written behind the
             // services' back) cannot block a cancellation or a refund: a backfill --restart recounts it.
             ...(shape.uncountSold ? [sql`sold_count = p.sold_count - least(p.sold_count, v.quantity)`] : []),
           ])}
          FROM unnest(${v.productIds}::uuid[], ${v.quantities}::integer[]) AS v(id, quantity)
         WHERE p.id = v.id
        RETURNING ${RETURNED_COLUMNS}`,
    ),
);

/**
 * Takes the quantities from stock in one statement, each only if enough is
 * left (`stock >= quantity`), bumping version and `updated_at`; with
 * `countSold`, `sold_count` grows by the same quantities (the dual-write of
 * ./sold-count.service.ts; a NULL count stays NULL for the backfill).
 * Returns the changed rows: fewer than the lines when some had too little.
 */
export async function decrementStock(db: Kysely<Database>, lines: readonly StockLine[], { countSold }: { countSold: boolean }): Promise<ProductRow[]> {
  if (lines.length === 0) return [];
  return takeFromStock(db, { countSold }, stockArrays(lines));
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
  return undoSalesStatement(db, { restock, uncountSold }, stockArrays(lines));
}
