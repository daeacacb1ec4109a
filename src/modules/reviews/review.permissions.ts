import { allow } from '../../authz/shield-lib.js';

import { canReadCatalog, canWriteReviews, isAdmin, isReviewAuthorOrAdmin } from '../../authz/rules.js';

const payload = { review: allow, userErrors: allow };

/** Which review a write may touch (the author's own; any for an admin deleting or restoring) is decided in the service. */
export const reviewPermissions = {
  // Each event is read again through the reviews and products services (a hidden product or deleted review sends nothing).
  Subscription: {
    reviewAdded: canReadCatalog,
  },
  Mutation: {
    createReview: canWriteReviews,
    updateReview: canWriteReviews,
    deleteReview: canWriteReviews,
    restoreReview: isAdmin,
  },
  CreateReviewPayload: payload,
  UpdateReviewPayload: payload,
  DeleteReviewPayload: { deletedReviewId: allow, userErrors: allow },
  RestoreReviewPayload: payload,
  Review: {
    id: allow,
    rating: allow,
    title: allow,
    body: allow,
    version: allow,
    author: allow,
    product: allow,
    createdAt: allow,
    updatedAt: allow,
    deletedAt: isReviewAuthorOrAdmin,
  },
  Product: {
    reviews: allow,
    deletedReviews: isAdmin,
    // Answers for the viewer only; anonymous callers get false.
    viewerCanReview: allow,
  },
  ReviewConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  ReviewEdge: { cursor: allow, node: allow },
};
