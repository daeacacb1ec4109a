import { sql, type Compilable, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJoins, joinedReader, joinsReader, prefixedColumns, takeOwn, type Join } from '../../db/joined.js';
import type { JoinedRow } from '../../loaders/joined.js';
import { keyValues, shapedStatement, type KeyValues } from '../../db/shaped.js';
import type { PageRequest } from '../../pagination/connection.js';
import type { KeyKind } from '../../pagination/cursor.js';
import {
  cursorKey,
  keysetCondition,
  pageShape,
  pageValues,
  scanDirection,
  shapedPageRequest,
  type KeysetColumns,
  type PageShape,
  type PageValues,
} from '../../pagination/keyset.js';
import { CATEGORY_COLUMNS, type CategoryRow } from '../categories/category.table.js';
import { USER_RECORD_COLUMNS, type UserRecord } from '../users/user.table.js';
import { PRODUCT_RECORD_COLUMNS, type NewProductRow, type ProductRow, type ProductStatus, type ProductTable, type ProductUpdate } from './product.table.js';

/** Product columns without the generated search vector, which never leaves the database (the `productById` loader's record). */
export const PRODUCT_COLUMNS = PRODUCT_RECORD_COLUMNS.map((column) => `p.${column}` as const);

export type ProductSortField = 'CREATED_AT' | 'PRICE' | 'TITLE' | 'RATING';

/** Sortable fields: the column behind each and how its value is written in cursors. */
export const PRODUCT_SORTS: Record<ProductSortField, { column: string; kind: KeyKind }> = {
  CREATED_AT: { column: 'p.created_at', kind: 'timestamp' },
  PRICE: { column: 'p.price_amount', kind: 'integer' },
  TITLE: { column: 'p.title', kind: 'text' },
  RATING: { column: 'p.rating_avg', kind: 'decimal' },
};

/**
 * Who may see non-public rows: anonymous and customers see ACTIVE products
 * only; a seller also their own DRAFT/ARCHIVED ones; an admin everything.
 */
export type ProductAudience = { kind: 'public' } | { kind: 'seller'; sellerId: string } | { kind: 'admin' };

/** A validated filter with ids already decoded to database keys. */
export interface ProductCriteria {
  audience?: ProductAudience;
  /** Default: ACTIVE only. */
  statuses?: ProductStatus[];
  includeDeleted?: boolean;
  search?: string;
  categoryId?: string;
  sellerId?: string;
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
}

/** A product row as read for a page: with its sort key text for the cursor. */
export type KeyedProductRow = ProductRow & { cursor_key: string };

/** Queries read products aliased as `p`. */
type Scope = Database & { p: ProductTable };
type ProductQuery<O> = SelectQueryBuilder<Scope, 'p', O>;

export function columnsFor(request: PageRequest): KeysetColumns {
  return { key: PRODUCT_SORTS[request.sort.name as ProductSortField].column, id: 'p.id' };
}

/** Only ACTIVE rows asked for (the default): the audience then makes no difference. */
function activeOnly(criteria: ProductCriteria): boolean {
  return criteria.statuses === undefined || (criteria.statuses.length === 1 && criteria.statuses[0] === 'ACTIVE');
}

/**
 * Rows the audience may see in the requested states. The default (ACTIVE,
 * not deleted) is written exactly as the partial indexes' predicate, so the
 * public catalogue is served from them.
 */
function visible(eb: ExpressionBuilder<Scope, 'p'>, criteria: ProductCriteria): Expression<SqlBool> {
  const statuses = criteria.statuses ?? ['ACTIVE'];
  const audience = criteria.audience ?? { kind: 'public' };
  const conditions: Expression<SqlBool>[] = [];
  if (activeOnly(criteria)) {
    conditions.push(eb('p.status', '=', 'ACTIVE'));
  } else {
    conditions.push(eb('p.status', 'in', statuses));
    if (audience.kind === 'public') conditions.push(eb('p.status', '=', 'ACTIVE'));
    if (audience.kind === 'seller') {
      conditions.push(eb.or([eb('p.status', '=', 'ACTIVE'), eb('p.seller_id', '=', audience.sellerId)]));
    }
  }
  if (!(criteria.includeDeleted && audience.kind === 'admin')) conditions.push(eb('p.deleted_at', 'is', null));
  return eb.and(conditions);
}

export function matching(criteria: ProductCriteria) {
  return (eb: ExpressionBuilder<Scope, 'p'>) => {
    const conditions: Expression<SqlBool>[] = [visible(eb, criteria)];
    if (criteria.search !== undefined) {
      conditions.push(sql<SqlBool>`${sql.ref('p.search')} @@ websearch_to_tsquery('english', ${criteria.search})`);
    }
    if (criteria.categoryId !== undefined) conditions.push(eb('p.category_id', '=', criteria.categoryId));
    if (criteria.sellerId !== undefined) conditions.push(eb('p.seller_id', '=', criteria.sellerId));
    if (criteria.minPrice !== undefined) conditions.push(eb('p.price_amount', '>=', criteria.minPrice));
    if (criteria.maxPrice !== undefined) conditions.push(eb('p.price_amount', '<=', criteria.maxPrice));
    if (criteria.inStock === true) conditions.push(eb('p.stock', '>', 0));
    if (criteria.inStock === false) conditions.push(eb('p.stock', '=', 0));
    return eb.and(conditions);
  };
}

function orderedPage<O>(query: ProductQuery<O>, request: PageRequest): ProductQuery<O> {
  const columns = columnsFor(request);
  const direction = scanDirection(request);
  return query
    .where(keysetCondition(columns, request))
    .orderBy(sql.ref(columns.key), direction)
    .orderBy('p.id', direction);
}

/** The product loader's statement, compiled once (src/db/shaped.ts). */
const productsByIds = shapedStatement('products.byIds', (db, shape: { single: boolean }, v: KeyValues) =>
  db
    .selectFrom('products as p')
    .select(PRODUCT_COLUMNS)
    .where('p.id', '=', (eb) => (shape.single ? eb.val(v.key ?? '') : eb.fn.any(eb.val(v.keys ?? [])))),
);

export async function findProductsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  // One array parameter: the same statement text for any number of ids (a reusable prepared statement); one id, `= $1`.
  const { single, values } = keyValues(ids);
  return productsByIds(db, { single }, values);
}

/** Products by id with their selected one-to-one relations, compiled once per set of joins. */
const productsByIdsJoined = shapedStatement('products.byIdsJoined', (db, shape: { joins: readonly Join[] }, v: { ids: string[] }): Compilable<Record<string, unknown>> =>
  addJoins(
    db
      .selectFrom('products as p')
      .select(PRODUCT_COLUMNS)
      .where('p.id', '=', (eb) => eb.fn.any(eb.val(v.ids))),
    'p',
    shape.joins,
  ),
);

/**
 * Products by id, each with the records of the one-to-one relations in
 * `joins` (its seller, its category) read by a join in the same statement,
 * for those modules' loaders (src/loaders/joined.ts); nothing here decides
 * who may see them.
 */
export async function findJoinedProductsByIds(db: Kysely<Database>, ids: readonly string[], joins: readonly Join[]): Promise<JoinedRow<ProductRow>[]> {
  if (ids.length === 0) return [];
  const read = joinsReader(joins);
  const rows = await productsByIdsJoined(db, { joins }, { ids: [...ids] });
  return rows.map((row) => ({ record: takeOwn<ProductRow>(row, PRODUCT_RECORD_COLUMNS), joined: read(row) }));
}

/** The product columns, unqualified, with the cursor key: a page row's own part. */
export const KEYED_COLUMNS = [...PRODUCT_RECORD_COLUMNS, 'cursor_key'] as const;
const KEYED_COLUMNS_WITH_SOLD_COUNT = [...KEYED_COLUMNS, 'sold_count'] as const;
const readSeller = joinedReader<UserRecord>('seller', USER_RECORD_COLUMNS);
const readCategory = joinedReader<CategoryRow>('category', CATEGORY_COLUMNS);

/**
 * A row of a product page: the product, and the rows joined to it when asked
 * (null when not asked), for the users and categories modules' loaders.
 */
export interface ProductPageRow {
  product: KeyedProductRow;
  /** The seller's record (USER_RECORD_COLUMNS, whatever its state: visibility is the users service's call). */
  seller: UserRecord | null;
  category: CategoryRow | null;
  /** With `withTotal`: the number of all matching products. */
  totalCount?: string;
}

export interface ProductPageOptions {
  /** Count all matching products in the same statement. */
  withTotal?: boolean;
  /** Join each product's seller (`users`) and category in the same statement. */
  withSeller?: boolean;
  withCategory?: boolean;
  /** Read `sold_count` too (only once the column is read: ./sold-count.service.ts). */
  withSoldCount?: boolean;
}

/** What makes a product page's statement: everything but the filter values, the cursor and the limit. */
export type ProductPageShape = {
  page: PageShape;
  statuses: ProductStatus[] | null;
  audience: ProductAudience['kind'];
  includeDeleted: boolean;
  inStock: boolean | null;
  withTotal: boolean;
  withSeller: boolean;
  withCategory: boolean;
  withSoldCount: boolean;
};
export type ProductPageValues = PageValues & Pick<ProductCriteria, 'search' | 'categoryId' | 'sellerId' | 'minPrice' | 'maxPrice'> & { ownerId: string | undefined };

/** The criteria a shaped statement's build works from: its shape's parts and its values, nothing else. */
export function shapedCriteria(shape: Pick<ProductPageShape, 'statuses' | 'audience' | 'includeDeleted' | 'inStock'>, v: Omit<ProductPageValues, keyof PageValues>): ProductCriteria {
  // Only ACTIVE rows asked for: the audience's own seller id makes no difference, and a seller then sees what the public sees.
  const audience: ProductAudience =
    shape.audience === 'seller' ? (v.ownerId !== undefined ? { kind: 'seller', sellerId: v.ownerId } : { kind: 'public' }) : { kind: shape.audience };
  return {
    audience,
    ...(shape.statuses ? { statuses: shape.statuses } : {}),
    includeDeleted: shape.includeDeleted,
    ...(shape.inStock !== null ? { inStock: shape.inStock } : {}),
    search: v.search,
    categoryId: v.categoryId,
    sellerId: v.sellerId,
    minPrice: v.minPrice,
    maxPrice: v.maxPrice,
  };
}

/** The shape and values of criteria (everything but the page). */
export function criteriaShape(criteria: ProductCriteria) {
  const audience = criteria.audience ?? { kind: 'public' };
  return {
    shape: {
      // `status IN (…)` means the same in any order and with repeats: one shape for each set of states.
      statuses: criteria.statuses ? [...new Set(criteria.statuses)].sort() : null,
      audience: audience.kind,
      includeDeleted: criteria.includeDeleted ?? false,
      inStock: criteria.inStock ?? null,
    },
    values: {
      search: criteria.search,
      categoryId: criteria.categoryId,
      sellerId: criteria.sellerId,
      minPrice: criteria.minPrice,
      maxPrice: criteria.maxPrice,
      // The seller's own drafts and archived products are asked for only beyond ACTIVE.
      ownerId: audience.kind === 'seller' && !activeOnly(criteria) ? audience.sellerId : undefined,
    },
  };
}

/** The statement behind `findProductPage`, compiled once per shape. */
const productPage = shapedStatement('products.page', (db, shape: ProductPageShape, v: ProductPageValues): Compilable<Record<string, unknown>> =>
  productPageQuery(db, shapedCriteria(shape, v), shapedPageRequest(shape.page, v), v.limit, shape),
);

/**
 * One page of visible products: `limit + 1` rows in scan order (the extra one
 * signals more). With `withTotal`, each row also carries the number of all
 * matching products, counted once in the same statement by an uncorrelated
 * subquery. With `withSeller` / `withCategory`, the seller's and category's
 * rows are joined to the page (after its limit: at most `limit + 1` lookups
 * by primary key), so the page, its total and its related rows are one round
 * trip. This is a documented exception to the module boundaries (see
 * docs/architecture/modules.md): the joined columns are the ones the users and
 * categories modules declare for their loaders, and the rows go to those
 * loaders through the modules' services; nothing here decides who may see them.
 *
 * The statement is compiled once per shape (`runShaped`): the ordering, the
 * states, the audience, which filters are present and the joins make the
 * shape; the filter values, the cursor and the limit are its parameters.
 */
export async function findProductPage(
  db: Kysely<Database>,
  criteria: ProductCriteria,
  request: PageRequest,
  options: ProductPageOptions = {},
): Promise<ProductPageRow[]> {
  const parts = criteriaShape(criteria);
  const shape: ProductPageShape = {
    page: pageShape(request),
    ...parts.shape,
    withTotal: options.withTotal ?? false,
    withSeller: options.withSeller ?? false,
    withCategory: options.withCategory ?? false,
    withSoldCount: options.withSoldCount ?? false,
  };
  const rows = await productPage(db, shape, { ...pageValues(request), ...parts.values });
  return rows.map((row) => ({
    product: takeOwn<KeyedProductRow>(row, options.withSoldCount ? KEYED_COLUMNS_WITH_SOLD_COUNT : KEYED_COLUMNS),
    seller: options.withSeller ? readSeller(row) : null,
    category: options.withCategory ? readCategory(row) : null,
    ...(options.withTotal ? { totalCount: row['total_count'] as string } : {}),
  }));
}

function productPageQuery(db: Kysely<Database>, criteria: ProductCriteria, request: PageRequest, limit: number, options: ProductPageOptions) {
  let query = db
    .selectFrom('products as p')
    .select(PRODUCT_COLUMNS)
    .select(cursorKey(columnsFor(request)).as('cursor_key'))
    .where(matching(criteria));
  if (options.withTotal) {
    const total = db
      .selectFrom('products as p')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(matching(criteria));
    query = query.select(total.as('total_count'));
  }
  let page = orderedPage(query, request).limit(limit);
  if (options.withSoldCount) page = page.select('p.sold_count');
  if (options.withSeller) {
    page = page.leftJoin('users as s', 's.id', 'p.seller_id').select(prefixedColumns('s', 'seller', USER_RECORD_COLUMNS));
  }
  if (options.withCategory) {
    page = page.leftJoin('categories as c', 'c.id', 'p.category_id').select(prefixedColumns('c', 'category', CATEGORY_COLUMNS));
  }
  return page;
}

export async function countProducts(db: Kysely<Database>, criteria: ProductCriteria): Promise<number> {
  const row = await db
    .selectFrom('products as p')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(matching(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function insertProduct(db: Kysely<Database>, values: NewProductRow): Promise<ProductRow> {
  return db.insertInto('products').values(values).returning(PRODUCT_RECORD_COLUMNS).executeTakeFirstOrThrow();
}

export interface ProductChangeCondition {
  /** Only if the row is at this version. */
  expectedVersion?: number;
  /** Only from these states. */
  fromStatuses?: readonly ProductStatus[];
  /** Live rows (default) or soft-deleted ones. */
  deleted?: boolean;
}

/**
 * Changes a product only if it still matches the condition, bumping its
 * version and `updated_at`: the compare-and-set that makes a stale edit fail
 * instead of overwriting. `undefined` when nothing matched.
 */
export async function updateProductIf(
  db: Kysely<Database>,
  id: string,
  condition: ProductChangeCondition,
  changes: ProductUpdate,
): Promise<ProductRow | undefined> {
  let query = db
    .updateTable('products')
    .set({ ...changes, version: sql<number>`version + 1`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('deleted_at', condition.deleted ? 'is not' : 'is', null);
  if (condition.expectedVersion !== undefined) query = query.where('version', '=', condition.expectedVersion);
  if (condition.fromStatuses) query = query.where('status', 'in', condition.fromStatuses);
  return query.returning(PRODUCT_RECORD_COLUMNS).executeTakeFirst();
}
