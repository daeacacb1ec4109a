import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import type { KeyKind } from '../../pagination/cursor.js';
import { cursorKey, keysetCondition, rowNumberPerParent, type KeysetColumns } from '../../pagination/keyset.js';
import type { ReviewRow } from './review.table.js';

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

/**
 * One page of live reviews for each of many products in a single statement:
 * rows are numbered per product in scan order and cut at `limit + 1` each.
 */
export async function findReviewPagesByProduct(
  db: Kysely<Database>,
  productIds: readonly string[],
  request: PageRequest,
): Promise<(KeyedReviewRow & { rn: number })[]> {
  if (productIds.length === 0) return [];
  const columns: KeysetColumns = { key: REVIEW_SORTS[request.sort.name as ReviewSortField].column, id: 'r.id' };
  const ranked = db
    .selectFrom('reviews as r')
    .selectAll('r')
    .select(cursorKey(columns).as('cursor_key'))
    .select(rowNumberPerParent('r.product_id', columns, request).as('rn'))
    .where('r.product_id', 'in', productIds)
    .where('r.deleted_at', 'is', null)
    .where(keysetCondition(columns, request));
  return db
    .selectFrom(ranked.as('ranked'))
    .selectAll()
    .where('ranked.rn', '<=', request.limit + 1)
    .orderBy('ranked.product_id')
    .orderBy('ranked.rn')
    .execute();
}

export interface ReviewEligibilityRow {
  product_id: string;
  purchased: boolean;
  reviewed: boolean;
}

/**
 * For each product: has the user a DELIVERED order containing it, and a live
 * review of it already? One statement for any number of products.
 */
export async function findReviewEligibility(
  db: Kysely<Database>,
  userId: string,
  productIds: readonly string[],
): Promise<ReviewEligibilityRow[]> {
  if (productIds.length === 0) return [];
  return db
    .selectFrom('products as p')
    .where('p.id', 'in', productIds)
    .select((eb) => [
      'p.id as product_id',
      eb
        .exists(
          eb
            .selectFrom('order_items as oi')
            .innerJoin('orders as o', 'o.id', 'oi.order_id')
            .select(sql<number>`1`.as('one'))
            .whereRef('oi.product_id', '=', 'p.id')
            .where('o.customer_id', '=', userId)
            .where('o.status', '=', 'DELIVERED'),
        )
        .$castTo<boolean>()
        .as('purchased'),
      eb
        .exists(
          eb
            .selectFrom('reviews as r')
            .select(sql<number>`1`.as('one'))
            .whereRef('r.product_id', '=', 'p.id')
            .where('r.author_id', '=', userId)
            .where('r.deleted_at', 'is', null),
        )
        .$castTo<boolean>()
        .as('reviewed'),
    ])
    .execute();
}
