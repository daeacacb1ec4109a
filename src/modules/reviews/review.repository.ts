import { sql, type Compilable, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { joinedReader, prefixedColumns, takeOwn } from '../../db/joined.js';
import { shapedStatement } from '../../db/shaped.js';
import type { PageRequest } from '../../pagination/connection.js';
import type { KeyKind } from '../../pagination/cursor.js';
import {
  cursorKey,
  keysetCondition,
  NO_MERGE,
  pageLimit,
  pageShape,
  pageValues,
  parentsOf,
  scanDirection,
  scanOrderOf,
  shapedPageRequest,
  type KeysetColumns,
  type PageShape,
  type PageValues,
} from '../../pagination/keyset.js';
import { USER_RECORD_COLUMNS, type UserRecord } from '../users/user.table.js';
import type { NewReviewRow, ReviewRow, ReviewUpdate } from './review.table.js';

export type ReviewSortField = 'CREATED_AT' | 'RATING';

export const REVIEW_SORTS: Record<ReviewSortField, { column: string; kind: KeyKind }> = {
  CREATED_AT: { column: 'r.created_at', kind: 'timestamp' },
  RATING: { column: 'r.rating', kind: 'integer' },
};

export type KeyedReviewRow = ReviewRow & { cursor_key: string };

export async function findReviewsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ReviewRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('reviews').selectAll().where('id', 'in', ids).execute();
}

/** Which reviews a list shows: the live ones (everyone) or the soft-deleted ones (admins' moderation list). */
export type ReviewLifecycle = 'live' | 'deleted';

const KEYED_REVIEW_COLUMNS = [
  'id',
  'product_id',
  'author_id',
  'rating',
  'title',
  'body',
  'version',
  'created_at',
  'updated_at',
  'deleted_at',
  'cursor_key',
] as const satisfies readonly (keyof KeyedReviewRow)[];

const readAuthor = joinedReader<UserRecord>('author', USER_RECORD_COLUMNS);

/** A row of a review page with its author's record (whatever its state: visibility is the users service's call). */
export interface ReviewPageRow {
  review: KeyedReviewRow;
  author: UserRecord | null;
}

/** The statement behind `findReviewPagesByProduct`, compiled once per shape. */
const reviewPages = shapedStatement(
  'reviews.pages',
  (db, shape: { page: PageShape; lifecycle: ReviewLifecycle; oneParent: boolean }, v: PageValues & { productIds: string[] }): Compilable<Record<string, unknown>> => {
    const request = shapedPageRequest(shape.page, v);
    const columns: KeysetColumns = { key: REVIEW_SORTS[request.sort.name as ReviewSortField].column, id: 'r.id' };
    const direction = scanDirection(request);
    // Each product's page: `limit + 1` reviews in scan order, read from the product's index and cut there.
    const pages = db
      // One array parameter: the same statement text for any number of products (a reusable prepared statement).
      .selectFrom(parentsOf(v.productIds, shape.oneParent))
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('reviews as r')
            .selectAll('r')
            .select(cursorKey(columns).as('cursor_key'))
            .whereRef('r.product_id', '=', 'parent.id')
            .where('r.deleted_at', shape.lifecycle === 'live' ? 'is' : 'is not', null)
            .where(keysetCondition(columns, request))
            .orderBy(sql.ref(columns.key), direction)
            .orderBy('r.id', direction)
            .limit(pageLimit(shape.page))
            .as('page'),
        (join) => join.onTrue(),
      )
      .selectAll('page')
      .offset(NO_MERGE);
    return db
      .selectFrom(pages.as('ranked'))
      .leftJoin('users as a', 'a.id', 'ranked.author_id')
      .select(KEYED_REVIEW_COLUMNS.map((column) => `ranked.${column}` as const))
      .select(prefixedColumns('a', 'author', USER_RECORD_COLUMNS))
      .orderBy('ranked.product_id')
      .orderBy(scanOrderOf('ranked', columns, request));
  },
);

/**
 * One page of live (or soft-deleted) reviews for each of many products in a
 * single statement: each product's `limit + 1` rows in scan order, read
 * laterally. Each review's author is joined to the cut rows (a lookup
 * by primary key each), for the users module's loader: a documented
 * exception to the module boundaries (docs/architecture/modules.md), with the
 * columns that module declares for its loader.
 */
export async function findReviewPagesByProduct(
  db: Kysely<Database>,
  productIds: readonly string[],
  request: PageRequest,
  lifecycle: ReviewLifecycle = 'live',
): Promise<ReviewPageRow[]> {
  if (productIds.length === 0) return [];
  // Compiled once per shape (ordering, direction, lifecycle); the products, cursor and limit are parameters.
  const rows = await reviewPages(db, { page: pageShape(request), lifecycle, oneParent: productIds.length === 1 }, { productIds: [...productIds], ...pageValues(request) });
  return rows.map((row) => ({
    review: takeOwn<KeyedReviewRow>(row, KEYED_REVIEW_COLUMNS),
    author: readAuthor(row),
  }));
}

/** Soft-deleted reviews per product (the live count is the product's maintained `review_count`). */
export async function countDeletedReviewsByProduct(db: Kysely<Database>, productIds: readonly string[]): Promise<{ product_id: string; n: number }[]> {
  if (productIds.length === 0) return [];
  return db
    .selectFrom('reviews')
    .select(['product_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('product_id', 'in', productIds)
    .where('deleted_at', 'is not', null)
    .groupBy('product_id')
    .execute()
    .then((rows) => rows.map((row) => ({ product_id: row.product_id, n: Number(row.n) })));
}

export interface ReviewEligibilityRow {
  product_id: string;
  purchased: boolean;
  reviewed: boolean;
}

/**
 * For each product: has the user a DELIVERED order containing it, and a live
 * review of it already? One statement for any number of products. With
 * `lockPurchase`, the DELIVERED order found is locked `FOR SHARE` until the
 * transaction ends: a concurrent status change (a refund) waits for it, and
 * one committed first is seen (the lock re-checks the row), so a review is
 * written only while the order really is DELIVERED.
 */
function eligibilityQuery(db: Kysely<Database>, userId: string, productIds: readonly string[], lockPurchase: boolean) {
  // One product: its id bound in the subqueries too, so PostgreSQL looks the purchase up from the product's
  // order lines (as a hand-written statement would) instead of from all of the customer's orders.
  const only = productIds.length === 1 ? productIds[0] : undefined;
  return db
    .selectFrom('products as p')
    .where('p.id', 'in', productIds)
    .select((eb) => {
      const delivered = eb
        .selectFrom('order_items as oi')
        .innerJoin('orders as o', 'o.id', 'oi.order_id')
        .select(sql<number>`1`.as('one'))
        .where((inner) => (only === undefined ? inner('oi.product_id', '=', inner.ref('p.id')) : inner('oi.product_id', '=', only)))
        .where('o.customer_id', '=', userId)
        .where('o.status', '=', 'DELIVERED');
      return [
        'p.id as product_id',
        eb
          .exists(lockPurchase ? delivered.limit(1).forShare('o') : delivered)
          .$castTo<boolean>()
          .as('purchased'),
        eb
          .exists(
            eb
              .selectFrom('reviews as r')
              .select(sql<number>`1`.as('one'))
              .where((inner) => (only === undefined ? inner('r.product_id', '=', inner.ref('p.id')) : inner('r.product_id', '=', only)))
              .where('r.author_id', '=', userId)
              .where('r.deleted_at', 'is', null),
          )
          .$castTo<boolean>()
          .as('reviewed'),
      ];
    });
}

export async function findReviewEligibility(
  db: Kysely<Database>,
  userId: string,
  productIds: readonly string[],
): Promise<ReviewEligibilityRow[]> {
  if (productIds.length === 0) return [];
  return eligibilityQuery(db, userId, productIds, false).execute();
}

/** The eligibility of one product, with the DELIVERED order that grants it locked (see `eligibilityQuery`); for writes. */
export async function lockReviewEligibility(db: Kysely<Database>, userId: string, productId: string): Promise<ReviewEligibilityRow | undefined> {
  return eligibilityQuery(db, userId, [productId], true).executeTakeFirst();
}

/**
 * Inserts a review unless its author already has a live one of the product
 * (the partial unique index decides, also between concurrent writers: the
 * second waits for the first and then inserts nothing). `undefined` then.
 */
export async function insertReview(db: Kysely<Database>, values: NewReviewRow): Promise<ReviewRow | undefined> {
  return db
    .insertInto('reviews')
    .values(values)
    .onConflict((oc) => oc.columns(['product_id', 'author_id']).where('deleted_at', 'is', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export interface ReviewChangeCondition {
  /** Only if the row is at this version. */
  expectedVersion?: number;
  /** Only if this user wrote it. */
  authorId?: string;
  /** Live rows (default) or soft-deleted ones. */
  deleted?: boolean;
  /** Only if its author has no other live review of the product (a restore must not make a second one). */
  noOtherLive?: boolean;
}

/**
 * Changes a review only if it still matches the condition, bumping its
 * version and `updated_at` (the compare-and-set that makes a stale edit fail
 * instead of overwriting). `undefined` when nothing matched.
 */
export async function updateReviewIf(
  db: Kysely<Database>,
  id: string,
  condition: ReviewChangeCondition,
  changes: ReviewUpdate,
): Promise<ReviewRow | undefined> {
  let query = db
    .updateTable('reviews as r')
    .set({ ...changes, version: sql<number>`r.version + 1`, updated_at: sql<Date>`now()` })
    .where('r.id', '=', id)
    .where('r.deleted_at', condition.deleted ? 'is not' : 'is', null);
  if (condition.expectedVersion !== undefined) query = query.where('r.version', '=', condition.expectedVersion);
  if (condition.authorId !== undefined) query = query.where('r.author_id', '=', condition.authorId);
  if (condition.noOtherLive) {
    query = query.where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('reviews as live')
            .select(sql<number>`1`.as('one'))
            .whereRef('live.product_id', '=', 'r.product_id')
            .whereRef('live.author_id', '=', 'r.author_id')
            .where('live.deleted_at', 'is', null),
        ),
      ),
    );
  }
  return query.returningAll().executeTakeFirst();
}
