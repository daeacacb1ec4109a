import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys, groupedByKeys, LoaderFamily } from '../../loaders/batch.js';
import { pageRequestKey, type PageRequest } from '../../pagination/connection.js';
import {
  countDeletedReviewsByProduct,
  findReviewEligibility,
  findReviewPagesByProduct,
  findReviewsByIds,
  type ReviewEligibilityRow,
  type ReviewPageRow,
} from './review.repository.js';
import type { ReviewRow } from './review.table.js';

export type ReviewLoaders = ReturnType<typeof createReviewLoaders>;

export function createReviewLoaders(db: Kysely<Database>) {
  return {
    reviewById: new RecordLoader<string, ReviewRow | null>(async (ids) =>
      byKeys(ids, await findReviewsByIds(db, ids), (row) => row.id),
    ),
    /** Rows (`limit + 1`, scan order, each with its author) of one review page per product, one statement per distinct page request. */
    reviewPageByProduct: new LoaderFamily<string, ReviewPageRow[], PageRequest>(pageRequestKey, async (productIds, request) =>
      groupedByKeys(productIds, await findReviewPagesByProduct(db, productIds, request), (row) => row.review.product_id),
    ),
    /** The same for soft-deleted reviews (the admins' moderation list). */
    deletedReviewPageByProduct: new LoaderFamily<string, ReviewPageRow[], PageRequest>(pageRequestKey, async (productIds, request) =>
      groupedByKeys(productIds, await findReviewPagesByProduct(db, productIds, request, 'deleted'), (row) => row.review.product_id),
    ),
    /** Soft-deleted reviews per product, one GROUP BY for every product asked. */
    deletedReviewCountByProduct: new DataLoader<string, number>(async (productIds) =>
      byKeys(productIds, await countDeletedReviewsByProduct(db, productIds), (row) => row.product_id).map((row) => row?.n ?? 0),
    ),
    /** Review eligibility per product for one user (the ABAC inputs), batched per user. */
    reviewEligibility: new LoaderFamily<string, ReviewEligibilityRow | null, string>(
      (userId) => userId,
      async (productIds, userId) => byKeys(productIds, await findReviewEligibility(db, userId, productIds), (row) => row.product_id),
    ),
  };
}
