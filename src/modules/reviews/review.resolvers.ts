import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { getProduct } from '../products/product.service.js';
import { getUser } from '../users/user.service.js';

export const reviewResolvers: Resolvers<Scope<ProductLoaders & UserLoaders>> = {
  Review: {
    id: (review) => toGlobalId('Review', review.id),
    author: (review, _args, ctx) => getUser(ctx, review.author_id),
    product: (review, _args, ctx) => getProduct(ctx, review.product_id),
    createdAt: (review) => review.created_at,
    updatedAt: (review) => review.updated_at,
  },
  ReviewConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
