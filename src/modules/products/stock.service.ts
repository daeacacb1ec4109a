/**
 * Stock moves for checkout and order cancellation, called by the orders
 * module inside its unit of work. Rows are always locked in id order first.
 * Apart from the product's own edits (product.service.ts): these change with
 * how orders take and return stock.
 */
import { recordChanges } from '../../scope/changes.js';
import { recordEvent } from '../../scope/events.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from './product.loaders.js';
import type { ProductRow } from './product.table.js';
import { decrementStock, incrementStock, lockProductsByIds, type StockLine } from './stock.repository.js';

export type { StockLine } from './stock.repository.js';

/**
 * Locks these products until the caller's unit of work ends (ascending id
 * order, so concurrent callers never deadlock) and returns the rows as they
 * are now, primed into the loader. Must run inside a unit of work.
 */
export async function lockProductsForSale(scope: Scope<ProductLoaders>, ids: readonly string[]): Promise<ProductRow[]> {
  if (!scope.unit) throw new Error('lockProductsForSale must run inside a unit of work');
  const rows = await lockProductsByIds(scope.db, [...new Set(ids)]);
  for (const row of rows) scope.loaders.productById.clear(row.id).prime(row.id, row);
  return rows;
}

/**
 * Takes the quantities from stock, each only while enough is left. The
 * caller locked the rows and checked the quantities, so every line matches;
 * one that does not is a bug, and throwing rolls the whole unit back.
 */
export async function takeStock(scope: Scope<ProductLoaders>, lines: readonly StockLine[]): Promise<ProductRow[]> {
  const rows = await decrementStock(scope.db, lines);
  if (rows.length !== lines.length) throw new Error(`takeStock: ${lines.length - rows.length} of ${lines.length} lines lacked stock after locking`);
  for (const row of rows) scope.loaders.productById.clear(row.id).prime(row.id, row);
  await recordChanges(scope, ...rows.map((row) => ({ entity: 'product' as const, id: row.id })));
  await recordEvent(scope, ...rows.filter((row) => row.stock === 0).map(outOfStock));
  return rows;
}

/** The event of a product whose stock reached 0, for its seller. */
export function outOfStock(product: ProductRow) {
  return { type: 'product.out_of_stock' as const, data: { productId: product.id }, audience: [product.seller_id] };
}

/** Puts the quantities back on sale (a cancelled or refunded order), locking the rows in id order first. */
export async function returnStock(scope: Scope<ProductLoaders>, lines: readonly StockLine[]): Promise<ProductRow[]> {
  if (lines.length === 0) return [];
  await lockProductsForSale(scope, lines.map((line) => line.productId));
  const rows = await incrementStock(scope.db, lines);
  for (const row of rows) scope.loaders.productById.clear(row.id).prime(row.id, row);
  await recordChanges(scope, ...rows.map((row) => ({ entity: 'product' as const, id: row.id })));
  return rows;
}
