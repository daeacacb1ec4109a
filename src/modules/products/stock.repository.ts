/** Stock moves on product rows (stock.service.ts): locking in id order, taking and returning quantities, counting units sold. */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { compilableSql, idsMatch, shapedStatement } from '../../db/shaped.js';
import { PRODUCT_COLUMNS } from './product.repository.js';
import type { ProductRow } from './product.table.js';

/** A quantity of one product, for stock moves. */
export interface StockLine {
  productId: string;
  quantity: number;
}

/**
 * Every checkout and restock locks its products: compiled once (src/db/shaped.ts), the ids one array parameter,
 * matched as `id = ($ids)[1]` for a single product, which keeps its generic plan (`idsMatch`): no planning per
 * checkout of one product.
 */
const lockProducts = shapedStatement('products.lockForStock', (db, shape: { one: boolean }, v: { ids: string[] }) =>
  db
    .selectFrom('products as p')
    .select(PRODUCT_COLUMNS)
    .where(idsMatch('p.id', v.ids, shape.one))
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
  return lockProducts(db, { one: ids.length === 1 }, { ids: [...ids] });
}

/** The lines of a stock move: two arrays in product id order (one parameter each), or one line's two values. */
type StockValues = { productIds?: string[]; quantities?: number[]; productId?: string; quantity?: number };

/**
 * The lines as two arrays in product id order (the same statement text for any number of lines), or, for one line,
 * its values (`single`: a one-row VALUES keeps its generic plan, where `unnest` of arrays is planned on every run).
 */
function stockValues(lines: readonly StockLine[]): { single: boolean; values: StockValues } {
  const [only, ...others] = lines;
  if (only !== undefined && others.length === 0) return { single: true, values: { productId: only.productId, quantity: only.quantity } };
  const sorted = [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
  return { single: false, values: { productIds: sorted.map((line) => line.productId), quantities: sorted.map((line) => line.quantity) } };
}

/** The lines as rows `v(id, quantity)`. */
function stockSource(single: boolean, v: StockValues) {
  return single
    ? sql`(VALUES (${v.productId}::uuid, ${v.quantity}::integer)) AS v(id, quantity)`
    : sql`unnest(${v.productIds}::uuid[], ${v.quantities}::integer[]) AS v(id, quantity)`;
}

const RETURNED_COLUMNS = sql.join(PRODUCT_COLUMNS.map((column) => sql.ref(column)));

const takeFromStock = shapedStatement(
  'products.takeStock',
  (db, shape: { countSold: boolean; single: boolean }, v: StockValues) =>
    compilableSql(
      db,
      sql<ProductRow>`
        UPDATE products AS p
           SET stock = p.stock - v.quantity${shape.countSold ? sql`, sold_count = p.sold_count + v.quantity` : sql``}, version = p.version + 1, updated_at = now()
          FROM ${stockSource(shape.single, v)}
         WHERE p.id = v.id AND p.stock >= v.quantity
        RETURNING ${RETURNED_COLUMNS}`,
    ),
);

const undoSalesStatement = shapedStatement(
  'products.undoSales',
  (db, shape: { restock: boolean; uncountSold: boolean; single: boolean }, v: StockValues) =>
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
          FROM ${stockSource(shape.single, v)}
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
  const { single, values } = stockValues(lines);
  return takeFromStock(db, { countSold, single }, values);
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
  const { single, values } = stockValues(lines);
  return undoSalesStatement(db, { restock, uncountSold, single }, values);
}
