import { sql, type Compilable, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJoins, joinsReader, takeOwn, type Join } from '../../db/joined.js';
import { shapedStatement } from '../../db/shaped.js';
import type { JoinedRow } from '../../loaders/joined.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, pageShape, pageValues, rowNumberPerParent, shapedPageRequest } from '../../pagination/keyset.js';
import {
  columnsFor,
  criteriaShape,
  KEYED_COLUMNS,
  matching,
  PRODUCT_COLUMNS,
  shapedCriteria,
  type KeyedProductRow,
  type ProductCriteria,
  type ProductPageShape,
  type ProductPageValues,
} from './product.repository.js';

type CategoryPagesShape = Pick<ProductPageShape, 'page' | 'statuses' | 'audience' | 'includeDeleted' | 'inStock' | 'withTotal'> & { joins: readonly Join[] };
type CategoryPagesValues = Omit<ProductPageValues, 'categoryId'> & { categoryIds: string[] };

/** The statement behind `findProductPagesByCategory`, compiled once per shape (order, states, audience, filters present, joins, total). */
const categoryPages = shapedStatement('products.categoryPages', (db, shape: CategoryPagesShape, v: CategoryPagesValues): Compilable<Record<string, unknown>> => {
  const criteria = shapedCriteria(shape, { ...v, categoryId: undefined });
  const request = shapedPageRequest(shape.page, v);
  const columns = columnsFor(request);
  const ranked = db
    .selectFrom('products as p')
    .select(PRODUCT_COLUMNS)
    .select(cursorKey(columns).as('cursor_key'))
    .select(rowNumberPerParent('p.category_id', columns, request).as('rn'))
    .where(matching(criteria))
    // One array parameter: the same statement text for any number of categories.
    .where('p.category_id', '=', (eb) => eb.fn.any(eb.val(v.categoryIds)))
    .where(keysetCondition(columns, request));
  // The relations are joined to the cut rows only: at most `limit + 1` lookups by primary key per category.
  let page = db
    .selectFrom(ranked.as('ranked'))
    .select(KEYED_COLUMNS.map((column) => `ranked.${column}` as const))
    .where('ranked.rn', '<=', v.limit)
    .orderBy('ranked.category_id')
    .orderBy('ranked.rn');
  if (shape.withTotal) {
    // Each category's total, counted once: on its first row only (CASE evaluates the subquery only where it is taken).
    const total = db
      .selectFrom('products as p')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(matching(criteria))
      .where(sql<SqlBool>`${sql.ref('p.category_id')} = ${sql.ref('ranked.category_id')}`);
    page = page.select(sql<string | null>`case when ${sql.ref('ranked.rn')} = 1 then (${total}) end`.as('total_count'));
  }
  return addJoins(page, 'ranked', shape.joins);
});

/**
 * The same page for many categories in one statement: rows are numbered per
 * category in scan order and cut at `limit + 1` each; each row with the
 * records of the relations in `joins` (for their modules' loaders), and with
 * `withTotal` each category's first row with the number of its matching products.
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
    { page: pageShape(request), ...parts.shape, withTotal, joins },
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
