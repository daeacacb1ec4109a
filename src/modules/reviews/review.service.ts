import { actsAsAdmin, type Viewer } from '../../auth/viewer.js';
import { isUniqueViolation } from '../../db/faults.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type ConnectionArgs, type Connection } from '../../pagination/connection.js';
import { recordChanges } from '../../scope/changes.js';
import { recordEvent } from '../../scope/events.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit } from '../audit/audit.service.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import { getProduct } from '../products/product.service.js';
import type { ProductRow } from '../products/product.table.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { primeUsers } from '../users/user.service.js';
import type { ReviewLoaders } from './review.loaders.js';
import {
  insertReview,
  lockReviewEligibility,
  REVIEW_SORTS,
  updateReviewIf,
  type KeyedReviewRow,
  type ReviewChangeCondition,
  type ReviewPageRow,
  type ReviewSortField,
} from './review.repository.js';
import type { ReviewRow, ReviewUpdate } from './review.table.js';

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

/**
 * A review of `productId` written at or after `since`, as the viewer may see
 * it (the review live and its product visible to them); `null` otherwise.
 */
export async function getReviewAddedSince(ctx: Scope<ReviewLoaders & ProductLoaders>, id: string, productId: string, since: Date): Promise<ReviewRow | null> {
  const review = await getReview(ctx, id);
  if (!review || review.product_id !== productId || new Date(review.created_at).getTime() < since.getTime()) return null;
  return (await getProduct(ctx, productId)) ? review : null;
}

function reviewPageRequest(args: ReviewListArgs) {
  const order = args.orderBy ?? { field: 'CREATED_AT', direction: 'DESC' };
  return parsePageRequest(args, { name: order.field, kind: REVIEW_SORTS[order.field].kind, direction: order.direction });
}

/**
 * The reviews of a page, primed into the `reviewById` loader, and their
 * authors (read in the page's statement) into the users module's `userById`
 * loader, so `author` fields load through `getUser` without a statement.
 */
function primePage(ctx: Scope<ReviewLoaders & UserLoaders>, page: readonly ReviewPageRow[]): KeyedReviewRow[] {
  const rows: KeyedReviewRow[] = [];
  for (const { review, author } of page) {
    rows.push(review);
    ctx.loaders.reviewById.prime(review.id, review);
    if (author) primeUsers(ctx, [author]);
  }
  return rows;
}

/** A product's live reviews; the total is the product's maintained review count, so it costs no query. */
export async function listProductReviews(
  ctx: Scope<ReviewLoaders & UserLoaders>,
  product: ProductRow,
  args: ReviewListArgs,
): Promise<Connection<KeyedReviewRow>> {
  const request = reviewPageRequest(args);
  const rows = primePage(ctx, await ctx.loaders.reviewPageByProduct.load(product.id, request));
  return toConnection(rows, request, () => Promise.resolve(product.review_count));
}

/** A product's soft-deleted reviews, for admins' moderation (the permission layer refuses others first). */
export async function listDeletedProductReviews(
  ctx: Scope<ReviewLoaders & UserLoaders>,
  product: ProductRow,
  args: ReviewListArgs,
): Promise<Connection<KeyedReviewRow>> {
  if (!actsAsAdmin(ctx.viewer)) throw appError('FORBIDDEN', 'Only admins may list deleted reviews.');
  const request = reviewPageRequest(args);
  const rows = primePage(ctx, await ctx.loaders.deletedReviewPageByProduct.load(product.id, request));
  return toConnection(rows, request, () => ctx.loaders.deletedReviewCountByProduct.load(product.id));
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

// ---------------------------------------------------------------------------
// Writes. The author writes and edits; the author or an admin (in person)
// deletes; an admin restores. A review the viewer may not change answers
// NOT_FOUND, exactly like a missing one.
// ---------------------------------------------------------------------------

export const REVIEW_LIMITS = { ratingMin: 1, ratingMax: 5, titleMax: 120, bodyMax: 5_000 } as const;

export interface CreateReviewInput {
  /** Raw id, or `null` for an id of another type. */
  productId: string | null;
  rating: number;
  title?: string | null;
  body?: string | null;
}

export interface UpdateReviewInput {
  /** Raw id, or `null` for an id of another type. */
  reviewId: string | null;
  expectedVersion: number;
  rating?: number | null;
  title?: string | null;
  body?: string | null;
}

export interface ReviewResult {
  review: ReviewRow | null;
  userErrors: UserErrorData[];
}

type ReviewWriteLoaders = ReviewLoaders & ProductLoaders;

const productNotFound: UserErrorData = { field: ['input', 'productId'], code: 'NOT_FOUND', message: 'No such product.' };
const reviewNotFound: UserErrorData = { field: ['input', 'reviewId'], code: 'NOT_FOUND', message: 'No such review.' };
const alreadyReviewed: UserErrorData = {
  field: ['input', 'productId'],
  code: 'TAKEN',
  message: 'You already have a review of this product: edit it with updateReview, or delete it first.',
};

/** The signed-in writer; an API key needs `reviews:write` (the permission layer refuses first; the service holds on its own). */
function reviewWriter(scope: Scope): Viewer {
  const viewer = scope.viewer;
  if (!viewer) throw appError('UNAUTHENTICATED', 'Sign in to do this.');
  if (viewer.scopes !== null && !viewer.scopes.has('reviews:write')) throw appError('FORBIDDEN', 'This API key lacks the reviews:write scope.');
  return viewer;
}

function checkReviewText(check: InputCheck, input: { title?: string | null; body?: string | null }) {
  const title = input.title == null ? undefined : check.text(['input', 'title'], input.title, { max: REVIEW_LIMITS.titleMax, label: 'title' });
  const body =
    input.body == null ? undefined : check.text(['input', 'body'], input.body, { max: REVIEW_LIMITS.bodyMax, shape: 'multi-line', label: 'review text' });
  return { title, body };
}

function checkRating(check: InputCheck, rating: number | null | undefined, required: boolean): number | undefined {
  return check.integer(['input', 'rating'], rating, { required, min: REVIEW_LIMITS.ratingMin, max: REVIEW_LIMITS.ratingMax, label: 'rating' });
}

/** After a review write: nothing read before it is served stale (the product's rating moved), and the change is announced after commit. */
async function afterReviewWrite(unit: Scope<ReviewWriteLoaders>, review: ReviewRow): Promise<void> {
  unit.loaders.reviewById.clear(review.id).prime(review.id, review);
  unit.loaders.productById.clear(review.product_id);
  await recordChanges(unit, { entity: 'review', id: review.id, productId: review.product_id });
}

/**
 * The ABAC rule, checked inside the write's unit of work: the product is
 * visible, the writer is not its seller, a DELIVERED order of theirs contains
 * it (that order stays locked until commit), and they have no live review of it.
 */
async function reviewEligibilityProblem(unit: Scope<ReviewWriteLoaders>, viewer: Viewer, productId: string): Promise<UserErrorData | null> {
  const product = await getProduct(unit, productId);
  if (!product) return productNotFound;
  if (product.seller_id === viewer.userId) {
    return { field: ['input', 'productId'], code: 'NOT_ELIGIBLE', message: 'You cannot review your own product.' };
  }
  const eligibility = await lockReviewEligibility(unit.db, viewer.userId, productId);
  if (!eligibility?.purchased) {
    return { field: ['input', 'productId'], code: 'NOT_ELIGIBLE', message: 'You can review a product once an order of yours containing it has been delivered.' };
  }
  return eligibility.reviewed ? alreadyReviewed : null;
}

export async function createReview(scope: Scope<ReviewWriteLoaders>, input: CreateReviewInput): Promise<ReviewResult> {
  const viewer = reviewWriter(scope);
  const check = new InputCheck();
  const rating = checkRating(check, input.rating, true);
  const { title, body } = checkReviewText(check, input);
  const productId = input.productId;
  // Problems in input order: the product first, then the fields.
  if (productId === null) return { review: null, userErrors: [productNotFound, ...check.errors.list] };
  return unitOfWork(
    scope,
    async (unit) => {
      const problem = await reviewEligibilityProblem(unit, viewer, productId);
      const userErrors = problem ? [problem, ...check.errors.list] : check.errors.list;
      if (userErrors.length > 0 || rating === undefined) return { review: null, userErrors };
      const review = await insertReview(unit.db, { product_id: productId, author_id: viewer.userId, rating, title: title ?? '', body: body ?? '' });
      // A concurrent createReview by the same author committed first: the unique index let only one through.
      if (!review) return { review: null, userErrors: [alreadyReviewed] };
      // Read before afterReviewWrite drops it from the loader (the eligibility check loaded it: no statement).
      const product = await getProduct(unit, productId);
      await afterReviewWrite(unit, review);
      await recordEvent(unit, { type: 'review.created', data: { reviewId: review.id, productId }, audience: product ? [product.seller_id] : [] });
      return { review, userErrors: [] };
    },
    { rerunnable: true },
  );
}

type ReviewActor = 'author' | 'author-or-admin' | 'admin';

function mayChangeReview(viewer: Viewer, review: ReviewRow, actor: ReviewActor): boolean {
  if (actor === 'admin') return actsAsAdmin(viewer);
  return review.author_id === viewer.userId || (actor === 'author-or-admin' && actsAsAdmin(viewer));
}

/** Why a conditional change matched nothing, read after the fact: NOT_FOUND, VERSION_CONFLICT or TAKEN. */
async function explainReviewMiss(
  unit: Scope<ReviewWriteLoaders>,
  viewer: Viewer,
  id: string,
  actor: ReviewActor,
  condition: ReviewChangeCondition,
): Promise<UserErrorData> {
  unit.loaders.reviewById.clear(id);
  const current = await unit.loaders.reviewById.load(id);
  if (!current || !mayChangeReview(viewer, current, actor) || (current.deleted_at !== null) !== (condition.deleted ?? false)) return reviewNotFound;
  if (condition.expectedVersion !== undefined && current.version !== condition.expectedVersion) {
    return {
      field: ['input', 'expectedVersion'],
      code: 'VERSION_CONFLICT',
      message: `The review changed since you read it (now version ${current.version}); reload it and try again.`,
      currentVersion: current.version,
    };
  }
  return {
    field: ['input', 'reviewId'],
    code: 'TAKEN',
    message: 'Its author has another live review of this product; delete that one first.',
  };
}

/**
 * Applies a conditional change to a review the viewer may change, in one
 * unit of work: who may, then the compare-and-set. `fieldErrors` are the
 * input's problems, reported together with a missing review.
 */
async function changeReview(
  scope: Scope<ReviewWriteLoaders>,
  viewer: Viewer,
  id: string | null,
  actor: ReviewActor,
  condition: ReviewChangeCondition,
  changes: ReviewUpdate,
  fieldErrors: UserErrorData[] = [],
  after?: (unit: Scope<ReviewWriteLoaders>, review: ReviewRow) => Promise<void>,
): Promise<ReviewResult> {
  if (id === null) return { review: null, userErrors: [reviewNotFound, ...fieldErrors] };
  return unitOfWork(
    scope,
    async (unit) => {
      const before = await unit.loaders.reviewById.load(id);
      const found = before !== null && mayChangeReview(viewer, before, actor) && (before.deleted_at !== null) === (condition.deleted ?? false);
      if (!found || fieldErrors.length > 0) return { review: null, userErrors: found ? fieldErrors : [reviewNotFound, ...fieldErrors] };
      const review = await updateReviewIf(unit.db, id, condition, changes);
      if (!review) return { review: null, userErrors: [await explainReviewMiss(unit, viewer, id, actor, condition)] };
      await afterReviewWrite(unit, review);
      await after?.(unit, review);
      return { review, userErrors: [] };
    },
    { rerunnable: true },
  );
}

export async function updateReview(scope: Scope<ReviewWriteLoaders>, input: UpdateReviewInput): Promise<ReviewResult> {
  const viewer = reviewWriter(scope);
  const check = new InputCheck();
  check.integer(['input', 'expectedVersion'], input.expectedVersion, { required: true, min: 1, max: 2_147_483_647, label: 'expected version' });
  const rating = input.rating == null ? undefined : checkRating(check, input.rating, false);
  const { title, body } = checkReviewText(check, input);
  const changes: ReviewUpdate = {
    ...(rating !== undefined ? { rating } : {}),
    ...(title !== undefined ? { title } : {}),
    ...(body !== undefined ? { body } : {}),
  };
  return changeReview(scope, viewer, input.reviewId, 'author', { expectedVersion: input.expectedVersion, authorId: viewer.userId }, changes, check.errors.list);
}

export async function deleteReview(scope: Scope<ReviewWriteLoaders>, input: { reviewId: string | null; expectedVersion?: number | null }): Promise<ReviewResult> {
  const viewer = reviewWriter(scope);
  const check = new InputCheck();
  if (input.expectedVersion != null) {
    check.integer(['input', 'expectedVersion'], input.expectedVersion, { min: 1, max: 2_147_483_647, label: 'expected version' });
  }
  const condition: ReviewChangeCondition = input.expectedVersion != null ? { expectedVersion: input.expectedVersion } : {};
  return changeReview(scope, viewer, input.reviewId, 'author-or-admin', condition, { deleted_at: new Date() }, check.errors.list, (unit, review) =>
    recordAudit(unit, {
      action: 'REVIEW_DELETED',
      actorId: viewer.userId,
      targetType: 'Review',
      targetId: review.id,
      metadata: { productId: review.product_id, authorId: review.author_id },
    }),
  );
}

/** Restores a soft-deleted review (admins); refused while its author has another live review of the product. */
export async function restoreReview(scope: Scope<ReviewWriteLoaders>, input: { reviewId: string | null }): Promise<ReviewResult> {
  const viewer = reviewWriter(scope);
  if (!actsAsAdmin(viewer)) throw appError('FORBIDDEN', 'Only admins restore reviews.');
  const write = (unit: Scope<ReviewWriteLoaders>) =>
    changeReview(unit, viewer, id, 'admin', { deleted: true, noOtherLive: true }, { deleted_at: null }, [], (inner, review) =>
      recordAudit(inner, {
        action: 'REVIEW_RESTORED',
        actorId: viewer.userId,
        targetType: 'Review',
        targetId: review.id,
        metadata: { productId: review.product_id, authorId: review.author_id },
      }),
    );
  if (input.reviewId === null) return { review: null, userErrors: [reviewNotFound] };
  const id = input.reviewId;
  try {
    // A savepoint: when a concurrent write made another live review first, the unique index refuses this one and only this part rolls back.
    return await unitOfWork(scope, write, { rerunnable: true, savepoint: true });
  } catch (error) {
    if (isUniqueViolation(error)) return { review: null, userErrors: [await explainReviewMiss(scope, viewer, id, 'admin', { deleted: true, noOtherLive: true })] };
    throw error;
  }
}
