/** Stock moves on product rows (stock.service.ts): locking in id order, taking and returning quantities. */
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
  (db, _shape: null, v: { productIds: string[]; quantities: number[] }) =>
    compilableSql(
      db,
      sql<ProductRow>`
        UPDATE products AS p
           SET stock = p.stock - v.quantity, version = p.version + 1, updated_at = now()
          FROM unnest(${v.productIds}::uuid[], ${v.quantities}::integer[]) AS v(id, quantity)
         WHERE p.id = v.id AND p.stock >= v.quantity
        RETURNING ${RETURNED_COLUMNS}`,
    ),
);

const putBackInStock = shapedStatement(
  'products.returnStock',
  (db, _shape: null, v: { productIds: string[]; quantities: number[] }) =>
    compilableSql(
      db,
      sql<ProductRow>`
        UPDATE products AS p
           SET stock = p.stock + v.quantity, version = p.version + 1, updated_at = now()
          FROM unnest(${v.productIds}::uuid[], ${v.quantities}::integer[]) AS v(id, quantity)
         WHERE p.id = v.id
        RETURNING ${RETURNED_COLUMNS}`,
    ),
);

/**
 * Takes the quantities from stock in one statement, each only if enough is
 * left (`stock >= quantity`), bumping version and `updated_at`. Returns the
 * changed rows: fewer than the lines when some had too little.
 */
export async function decrementStock(db: Kysely<Database>, lines: readonly StockLine[]): Promise<ProductRow[]> {
  if (lines.length === 0) return [];
  return takeFromStock(db, null, stockArrays(lines));
}

/** Puts the quantities back on sale in one statement (deleted products too: the rows stay consistent), bumping version. */
export async function incrementStock(db: Kysely<Database>, lines: readonly StockLine[]): Promise<ProductRow[]> {
  if (lines.length === 0) return [];
  return putBackInStock(db, null, stockArrays(lines));
}
