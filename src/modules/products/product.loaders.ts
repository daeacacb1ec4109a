import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys, groupedByKeys, LoaderFamily } from '../../loaders/batch.js';
import { joinsKey, type Join } from '../../db/joined.js';
import type { JoinedRow } from '../../loaders/joined.js';
import { pageRequestKey, type PageRequest } from '../../pagination/connection.js';
import { countProductsByCategory, findProductPagesByCategory } from './product-pages.repository.js';
import { findJoinedProductsByIds, findProductsByIds, type KeyedProductRow, type ProductCriteria } from './product.repository.js';
import type { ProductRow } from './product.table.js';
import { countUnitsSold, findSoldCounts } from './sold-count.repository.js';

export interface CategoryPageArgs {
  criteria: ProductCriteria;
  request: PageRequest;
  /** The products' one-to-one relations to read in the page's statement. */
  joins: readonly Join[];
  /** Count each category's matching products in the same statement (the client selected `totalCount`). */
  withTotal: boolean;
}

export type ProductLoaders = ReturnType<typeof createProductLoaders>;

export function createProductLoaders(db: Kysely<Database>) {
  return {
    productById: new RecordLoader<string, ProductRow | null>(async (ids) =>
      byKeys(ids, await findProductsByIds(db, ids), (row) => row.id),
    ),
    /** Products with the one-to-one relations the request selected, joined: one statement per set of joins (src/loaders/joined.ts). */
    productByIdJoined: new LoaderFamily<string, JoinedRow<ProductRow> | null, readonly Join[]>(joinsKey, async (ids, joins) =>
      byKeys(ids, await findJoinedProductsByIds(db, ids, joins), (row) => row.record.id),
    ),
    /** Rows (`limit + 1`, scan order, with their joined relations) of one page per category, one statement per distinct arguments. */
    productPageByCategory: new LoaderFamily<string, (JoinedRow<KeyedProductRow> & { total?: number })[], CategoryPageArgs>(
      ({ criteria, request, joins, withTotal }) => JSON.stringify([criteria, pageRequestKey(request), joinsKey(joins), withTotal]),
      async (categoryIds, { criteria, request, joins, withTotal }) =>
        groupedByKeys(
          categoryIds,
          await findProductPagesByCategory(db, categoryIds, criteria, request, joins, withTotal),
          (row) => row.record.category_id,
        ),
    ),
    /** Units sold counted from the orders (the old shape of `Product.soldCount`). */
    unitsSoldByProductId: new RecordLoader<string, number>(async (ids) =>
      byKeys(ids, await countUnitsSold(db, ids), (row) => row.id).map((row) => row?.units ?? 0),
    ),
    /** `products.sold_count` (the new shape); a product not counted yet (NULL) is counted from its orders. */
    soldCountByProductId: new RecordLoader<string, number>(async (ids) => {
      const stored = new Map((await findSoldCounts(db, ids)).map((row) => [row.id, row.sold_count]));
      const uncounted = ids.filter((id) => stored.get(id) == null);
      const counted = new Map((await countUnitsSold(db, uncounted)).map((row) => [row.id, row.units]));
      return ids.map((id) => stored.get(id) ?? counted.get(id) ?? 0);
    }),
    productCountByCategory: new LoaderFamily<string, number, ProductCriteria>(
      (criteria) => JSON.stringify(criteria),
      async (categoryIds, criteria) => {
        const rows = await countProductsByCategory(db, categoryIds, criteria);
        return byKeys(categoryIds, rows, (row) => row.category_id).map((row) => Number(row?.count ?? 0));
      },
    ),
  };
}
