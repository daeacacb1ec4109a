import { sql, type Compilable, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJoins, joinsReader, takeOwn, type Join } from '../../db/joined.js';
import { shapedStatement } from '../../db/shaped.js';
import type { JoinedRow } from '../../loaders/joined.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, NO_MERGE, pageLimit, pageShape, pageValues, parentsOf, scanOrderOf, shapedPageRequest } from '../../pagination/keyset.js';
import {
  columnsFor,
  criteriaShape,
  KEYED_COLUMNS,
  matching,
  orderedPage,
  PRODUCT_COLUMNS,
  shapedCriteria,
  type KeyedProductRow,
  type ProductCriteria,
  type ProductPageShape,
  type ProductPageValues,
} from './product.repository.js';

type CategoryPagesShape = Pick<ProductPageShape, 'page' | 'statuses' | 'audience' | 'includeDeleted' | 'inStock' | 'withTotal'> & { joins: readonly Join[]; oneParent: boolean };
type CategoryPagesValues = Omit<ProductPageValues, 'categoryId'> & { categoryIds: string[] };

/** The statement behind `findProductPagesByCategory`, compiled once per shape (order, states, audience, filters present, joins, total, one category or many). */
const categoryPages = shapedStatement('products.categoryPages', (db, shape: CategoryPagesShape, v: CategoryPagesValues): Compilable<Record<string, unknown>> => {
  const criteria = shapedCriteria(shape, { ...v, categoryId: undefined });
  const request = shapedPageRequest(shape.page, v);
  const columns = columnsFor(request);
  // Each category's count, once per category (a lateral subquery: evaluated once per parent, not per row).
  const parents = shape.withTotal
    ? db.selectFrom(parentsOf(v.categoryIds, shape.oneParent)).innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('products as p')
            .select((count) => count.fn.countAll<string>().as('n'))
            .where(matching(criteria))
            .whereRef('p.category_id', '=', 'parent.id')
            .as('total'),
        (join) => join.onTrue(),
      )
    : db.selectFrom(parentsOf(v.categoryIds, shape.oneParent));
  // Each category's page: `limit + 1` rows in scan order, read from the category's index and cut there.
  const pages = parents
    .innerJoinLateral(
      (eb) =>
        orderedPage(
          eb
            .selectFrom('products as p')
            .select(PRODUCT_COLUMNS)
            .select(cursorKey(columns).as('cursor_key'))
            .where(matching(criteria))
            .whereRef('p.category_id', '=', 'parent.id'),
          request,
        )
          .limit(pageLimit(shape.page))
          .as('page'),
      (join) => join.onTrue(),
    )
    .selectAll('page')
    .select(sql<string | null>`${shape.withTotal ? sql.ref('total.n') : sql`null`}`.as('total_count'))
    .offset(NO_MERGE);
  // The relations are joined to the cut rows only: at most `limit + 1` lookups by primary key per category.
  const page = db
    .selectFrom(pages.as('ranked'))
    .select(KEYED_COLUMNS.map((column) => `ranked.${column}` as const))
    .select('ranked.total_count')
    .orderBy('ranked.category_id')
    .orderBy(scanOrderOf('ranked', columns, request));
  return addJoins(page, 'ranked', shape.joins);
});

/**
 * The same page for many categories in one statement: each category's
 * `limit + 1` rows in scan order, read laterally; each row with the
 * records of the relations in `joins` (for their modules' loaders), and with
 * `withTotal` every row with the number of its category's matching products.
 */
export async function findProductPagesByCategory(
  db: Kysely<Database>,
  categoryIds: readonly string[],
  criteria: ProductCriteria,
  request: PageRequest,
  joins: readonly Join[] = [],
  withTotal = false,
): Promise<(JoinedRow<KeyedProductRow> & { total?: number })[]> {
  if (categoryIds.length === 0) return [];
  const parts = criteriaShape(criteria);
  const { categoryId: _category, ...values } = parts.values;
  const rows = await categoryPages(
    db,
    { page: pageShape(request), ...parts.shape, withTotal, joins, oneParent: categoryIds.length === 1 },
    { ...pageValues(request), ...values, categoryIds: [...categoryIds] },
  );
  const read = joinsReader(joins);
  return rows.map((row) => ({
    record: takeOwn<KeyedProductRow>(row, KEYED_COLUMNS),
    joined: read(row),
    ...(row['total_count'] != null ? { total: Number(row['total_count']) } : {}),
  }));
}

export async function countProductsByCategory(
  db: Kysely<Database>,
  categoryIds: readonly string[],
  criteria: ProductCriteria,
): Promise<{ category_id: string; count: string }[]> {
  if (categoryIds.length === 0) return [];
  return db
    .selectFrom('products as p')
    .select(['p.category_id', (eb) => eb.fn.countAll<string>().as('count')])
    .where(matching(criteria))
    .where('p.category_id', '=', (eb) => eb.fn.any(eb.val([...categoryIds])))
    .groupBy('p.category_id')
    .execute();
}
