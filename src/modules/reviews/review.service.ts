import type { Scope } from '../../scope/scope.js';
import type { ReviewLoaders } from './review.loaders.js';
import { parsePageRequest, toConnection, type ConnectionArgs, type Connection } from '../../pagination/connection.js';
import type { ProductRow } from '../products/product.table.js';
import { REVIEW_SORTS, type KeyedReviewRow, type ReviewSortField } from './review.repository.js';
import type { ReviewRow } from './review.table.js';

export interface ReviewListArgs extends ConnectionArgs {
  orderBy?: { field: ReviewSortField; direction: 'ASC' | 'DESC' } | null;
}

export function isReviewVisible(review: ReviewRow): boolean {
  return review.deleted_at === null;
}

export async function getReview(ctx: Scope<ReviewLoaders>, id: string): Promise<ReviewRow | null> {
  const review = await ctx.loaders.reviewById.load(id);
  return review && isReviewVisible(review) ? review : null;
}

/** A product's live reviews; the total is the product's maintained review count, so it costs no query. */
export async function listProductReviews(
  ctx: Scope<ReviewLoaders>,
  product: ProductRow,
  args: ReviewListArgs,
): Promise<Connection<KeyedReviewRow>> {
  const order = args.orderBy ?? { field: 'CREATED_AT', direction: 'DESC' };
  const request = parsePageRequest(args, { name: order.field, kind: REVIEW_SORTS[order.field].kind, direction: order.direction });
  const rows = await ctx.loaders.reviewPageByProduct.load(product.id, request);
  for (const row of rows) ctx.loaders.reviewById.prime(row.id, row);
  return toConnection(rows, request, () => Promise.resolve(product.review_count));
}

/**
 * The review ABAC rule: a customer may review a product only after receiving
 * it (a DELIVERED order of theirs contains it), once while the review lives.
 * Sellers may not review their own products.
 */
export async function canReview(ctx: Scope<ReviewLoaders>, product: ProductRow): Promise<boolean> {
  const viewer = ctx.viewer;
  if (!viewer || viewer.userId === product.seller_id) return false;
  if (viewer.scopes !== null && !viewer.scopes.has('reviews:write')) return false;
  const eligibility = await ctx.loaders.reviewEligibility.load(product.id, viewer.userId);
  return eligibility !== null && eligibility.purchased && !eligibility.reviewed;
}
