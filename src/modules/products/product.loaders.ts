import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys, groupedByKeys, LoaderFamily } from '../../loaders/batch.js';
import { pageRequestKey, type PageRequest } from '../../pagination/connection.js';
import {
  countProductsByCategory,
  findProductPagesByCategory,
  findProductsByIds,
  type KeyedProductRow,
  type ProductCriteria,
} from './product.repository.js';
import type { ProductRow } from './product.table.js';

export interface CategoryPageArgs {
  criteria: ProductCriteria;
  request: PageRequest;
}

export type ProductLoaders = ReturnType<typeof createProductLoaders>;

export function createProductLoaders(db: Kysely<Database>) {
  return {
    productById: new RecordLoader<string, ProductRow | null>(async (ids) =>
      byKeys(ids, await findProductsByIds(db, ids), (row) => row.id),
    ),
    /** Rows (`limit + 1`, scan order) of one page per category, one statement per distinct arguments. */
    productPageByCategory: new LoaderFamily<string, KeyedProductRow[], CategoryPageArgs>(
      ({ criteria, request }) => JSON.stringify([criteria, pageRequestKey(request)]),
      async (categoryIds, { criteria, request }) =>
        groupedByKeys(
          categoryIds,
          await findProductPagesByCategory(db, categoryIds, criteria, request),
          (row) => row.category_id,
        ),
    ),
    productCountByCategory: new LoaderFamily<string, number, ProductCriteria>(
      (criteria) => JSON.stringify(criteria),
      async (categoryIds, criteria) => {
        const rows = await countProductsByCategory(db, categoryIds, criteria);
        return byKeys(categoryIds, rows, (row) => row.category_id).map((row) => Number(row?.count ?? 0));
      },
    ),
  };
}
