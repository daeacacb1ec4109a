import * as m0005 from '../../../migrations/2026_11_24_0005_reviews.js';
import * as m0008 from '../../../migrations/2026_12_02_0008_review_writes.js';
import { objectTag, setTag } from '../../cache/tag-names.js';
import { defineModule } from '../module.js';
import { createReviewLoaders } from './review.loaders.js';
import { reviewPermissions } from './review.permissions.js';
import { reviewResolvers } from './review.resolvers.js';
import { getReview } from './review.service.js';

declare module '../../scope/change-feed.js' {
  interface ChangeKinds {
    /** A review was created, edited, deleted or restored; its product's rating moved with it. */
    review: { id: string; productId: string };
  }
}

// Audience: the reviewed product's seller.
declare module '../../scope/event-types.js' {
  interface DomainEventTypes {
    'review.created': { reviewId: string; productId: string };
  }
}

declare module '../audit/audit.service.js' {
  interface AuditActions {
    REVIEW_DELETED: true;
    REVIEW_RESTORED: true;
  }
}

export const reviewsModule = defineModule({
  name: 'reviews',
  schema: ['reviews.graphql', 'products.reviews.graphql'],
  resolvers: reviewResolvers,
  permissions: reviewPermissions,
  createLoaders: createReviewLoaders,
  nodeTypes: { Review: getReview },
  tables: ['reviews'],
  migrations: { '2026_11_24_0005_reviews': m0005, '2026_12_02_0008_review_writes': m0008 },
  changeTags: {
    // The product's rating, review count and review pages move with its reviews.
    review: (change) => [objectTag('Review', change.id), setTag('Review'), objectTag('Product', change.productId)],
  },
});
