import { defineModule } from '../module.js';
import { createReviewLoaders } from './review.loaders.js';
import { reviewPermissions } from './review.permissions.js';
import { reviewResolvers } from './review.resolvers.js';
import { getReview } from './review.service.js';

export const reviewsModule = defineModule({
  name: 'reviews',
  schema: ['reviews.graphql'],
  resolvers: reviewResolvers,
  permissions: reviewPermissions,
  createLoaders: createReviewLoaders,
  nodeTypes: { Review: getReview },
});
