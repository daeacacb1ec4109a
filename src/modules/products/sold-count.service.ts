/**
 * `Product.soldCount`, the units sold of a product, moved from an aggregate
 * over the orders to the column `products.sold_count`: a schema change made
 * in phases (src/transitions/; the worked example of
 * docs/operations/migrations.md):
 *
 * - expand (migration 0016): the column, NULL for every existing product;
 * - dual-write: every stock move of a sale keeps the column in the same
 *   statement (./stock.service.ts: checkout adds, cancellation and refund
 *   subtract), from the moment this instance sees the expand applied;
 * - backfill (`products.backfillSoldCount`): every product recounted from
 *   its orders, in batches on locked rows;
 * - switch: reads take the column (operator's switch, at run time);
 * - contract (migration 0017): NOT NULL.
 *
 * Both shapes give the same number in every phase, so a reader cannot tell
 * which one answered.
 */
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { MaybePromise } from '../../loaders/record-loader.js';
import type { Scope } from '../../scope/scope.js';
import { backfillTask } from '../../transitions/backfill.js';
import { readsNewShape, writesNewShape, type BackfillBatchResult, type TransitionDefinition } from '../../transitions/transition.js';
import type { ProductLoaders } from './product.loaders.js';
import type { ProductRow } from './product.table.js';
import { anySoldCountMissing, lockProductIdsAfter, recountSoldCounts } from './sold-count.repository.js';

export const SOLD_COUNT = 'products.soldCount' as const;

/** Stock moves keep `sold_count` (every phase from the expand on). */
export function writesSoldCount(scope: Scope): boolean {
  return writesNewShape(scope.deps.transitions, SOLD_COUNT);
}

/** Reads take `sold_count` (switched, or contracted). */
export function readsSoldCount(scope: Scope): boolean {
  return readsNewShape(scope.deps.transitions, SOLD_COUNT);
}

/** `Product.soldCount`: the row's column when it was read with it, else one batched statement per request. */
export function getSoldCount(ctx: Scope<ProductLoaders>, product: ProductRow): MaybePromise<number> {
  if (!readsSoldCount(ctx)) return ctx.loaders.unitsSoldByProductId.load(product.id);
  if (typeof product.sold_count === 'number') return product.sold_count;
  return ctx.loaders.soldCountByProductId.load(product.id);
}

/**
 * One backfill batch, in the batch's unit of work: the next products in id
 * order locked, then recounted from their orders in a statement of its own
 * (whose snapshot follows the locks, so no sale that committed meanwhile is
 * missed, and none can commit until the batch does). The count is absolute:
 * a batch run twice writes the same numbers.
 */
export async function backfillSoldCountBatch(scope: Scope, after: string | null, limit: number): Promise<BackfillBatchResult> {
  const ids = await lockProductIdsAfter(scope.db, after, limit);
  const changed = await recountSoldCounts(scope.db, ids);
  return { last: ids.at(-1) ?? null, scanned: ids.length, changed };
}

export const soldCountTransition: TransitionDefinition = {
  name: SOLD_COUNT,
  description: 'Product.soldCount: from a count over order_items to products.sold_count',
  expand: '2026_12_08_0016_products_sold_count',
  contract: '2026_12_08_0017_products_sold_count_not_null',
  table: 'products',
  backfill: { task: 'products.backfillSoldCount', batch: backfillSoldCountBatch },
  async switchBlocker(db: Kysely<Database>) {
    return (await anySoldCountMissing(db)) ? 'some products have no sold count yet (NULL); run the backfill again (with --restart)' : undefined;
  },
};

/** The task that runs the backfill (the module's `tasks`): batches through the job queue, throttled. */
export const backfillSoldCountTask = backfillTask(soldCountTransition);
