/**
 * Stock moves for checkout, cancellation and refunds, called by the orders
 * module inside its unit of work. Rows are always locked in id order first.
 * Apart from the product's own edits (product.service.ts): these change with
 * how orders take and return stock, and they keep each product's units sold
 * (`sold_count`, ./sold-count.service.ts) in the same statements.
 */
import { recordChanges } from '../../scope/changes.js';
import { recordEvent } from '../../scope/events.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from './product.loaders.js';
import type { ProductRow } from './product.table.js';
import { writesSoldCount } from './sold-count.service.js';
import { decrementStock, lockProductsByIds, undoSales, type StockLine } from './stock.repository.js';

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
 * Takes the quantities from stock, each only while enough is left, and
 * counts them as sold. The caller locked the rows and checked the
 * quantities, so every line matches; one that does not is a bug, and
 * throwing rolls the whole unit back.
 */
export async function takeStock(scope: Scope<ProductLoaders>, lines: readonly StockLine[]): Promise<ProductRow[]> {
  const rows = await decrementStock(scope.db, lines, { countSold: writesSoldCount(scope) });
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

/**
 * The units of an order that was cancelled or refunded: no longer sold, and
 * back on sale when `restock` (the order's stock policy says so). Locks the
 * rows in id order first. Every product changes for readers (its units sold
 * do, in whichever shape they are read), so each is recorded as changed.
 */
export async function reverseSale(scope: Scope<ProductLoaders>, lines: readonly StockLine[], { restock }: { restock: boolean }): Promise<void> {
  if (lines.length === 0) return;
  const uncountSold = writesSoldCount(scope);
  if (restock || uncountSold) {
    await lockProductsForSale(scope, lines.map((line) => line.productId));
    const rows = await undoSales(scope.db, lines, { restock, uncountSold });
    for (const row of rows) scope.loaders.productById.clear(row.id).prime(row.id, row);
  }
  await recordChanges(scope, ...lines.map((line) => ({ entity: 'product' as const, id: line.productId })));
}
