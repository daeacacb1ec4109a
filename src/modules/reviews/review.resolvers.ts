import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import { appError } from '../../errors/errors.js';
import { liveField, liveOf } from '../../scope/live.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { getProduct } from '../products/product.service.js';
import { getUser } from '../users/user.service.js';
import type { ReviewLoaders } from './review.loaders.js';
import { canReview, createReview, getReviewAddedSince, deleteReview, listDeletedProductReviews, listProductReviews, restoreReview, updateReview } from './review.service.js';

const reviewId = (id: string) => idOfTypeOrNull(id, 'Review', 'input.reviewId');

export const reviewResolvers: Resolvers<Scope<ProductLoaders & UserLoaders & ReviewLoaders>> = {
  Subscription: {
    reviewAdded: {
      subscribe: async (_root, { productId }, ctx) => {
        const id = idOfType(productId, 'Product');
        if (!(await getProduct(ctx, id))) throw appError('SUBSCRIPTION_NOT_FOUND');
        const since = liveOf(ctx).startedAt;
        // A review is sent once: when it is first seen live after the subscription started.
        const sent = new Set<string>();
        return liveField(ctx, 'reviewAdded', 'review', (change) => change.productId === id, async (scope, change) => {
          if (sent.has(change.id)) return null;
          const review = await getReviewAddedSince(scope, change.id, id, since);
          if (review) sent.add(review.id);
          return review;
        });
      },
    },
  },
  Mutation: {
    createReview: (_root, { input }, ctx) => createReview(ctx, { ...input, productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId') }),
    updateReview: (_root, { input }, ctx) => updateReview(ctx, { ...input, reviewId: reviewId(input.reviewId) }),
    deleteReview: async (_root, { input }, ctx) => {
      const result = await deleteReview(ctx, { ...input, reviewId: reviewId(input.reviewId) });
      return { deletedReviewId: result.review ? toGlobalId('Review', result.review.id) : null, userErrors: result.userErrors };
    },
    restoreReview: (_root, { input }, ctx) => restoreReview(ctx, { reviewId: reviewId(input.reviewId) }),
  },
  Review: {
    id: (review) => toGlobalId('Review', review.id),
    author: (review, _args, ctx) => getUser(ctx, review.author_id),
    product: (review, _args, ctx) => getProduct(ctx, review.product_id),
    createdAt: (review) => review.created_at,
    updatedAt: (review) => review.updated_at,
    deletedAt: (review) => review.deleted_at,
  },
  // schema/products.reviews.graphql: the relation is the reviews module's, so are the fields.
  Product: {
    reviews: (product, args, ctx) => listProductReviews(ctx, product, args),
    deletedReviews: (product, args, ctx) => listDeletedProductReviews(ctx, product, args),
    viewerCanReview: (product, _args, ctx) => canReview(ctx, product),
  },
  ReviewConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
