export { reviewResolvers as resolvers } from './review.resolvers.js';
export { createReviewLoaders as createLoaders } from './review.loaders.js';
