import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { CategoryLoaders } from '../categories/category.loaders.js';
import type { ReviewLoaders } from '../reviews/review.loaders.js';
import type { UserLoaders } from '../users/user.loaders.js';
import type { ProductLoaders } from './product.loaders.js';
import { getCategory } from '../categories/category.service.js';
import { canReview, listProductReviews } from '../reviews/review.service.js';
import { getUser } from '../users/user.service.js';
import { getProduct, listProducts, type ProductFilterInput } from './product.service.js';

/** The filter with its global ids decoded (a wrong or malformed id is a BAD_USER_INPUT error naming it). */
export function decodeProductFilter<F extends ProductFilterInput>(filter: F | null | undefined): F | null | undefined {
  if (!filter) return filter;
  return {
    ...filter,
    ...(filter.categoryId != null ? { categoryId: idOfType(filter.categoryId, 'Category', 'filter.categoryId') } : {}),
    ...(filter.sellerId != null ? { sellerId: idOfType(filter.sellerId, 'User', 'filter.sellerId') } : {}),
  };
}

export const productResolvers: Resolvers<Scope<ProductLoaders & CategoryLoaders & ReviewLoaders & UserLoaders>> = {
  Query: {
    products: (_root, args, ctx) => listProducts(ctx, { ...args, filter: decodeProductFilter(args.filter) }),
    product: (_root, { id }, ctx) => getProduct(ctx, idOfType(id, 'Product')),
  },
  Product: {
    id: (product) => toGlobalId('Product', product.id),
    price: (product) => ({ amount: product.price_amount, currency: product.currency }),
    inStock: (product) => product.stock > 0,
    seller: (product, _args, ctx) => getUser(ctx, product.seller_id),
    category: async (product, _args, ctx) => {
      const category = await getCategory(ctx, product.category_id);
      // The foreign key guarantees the row; its absence is a bug worth a 500.
      if (!category) throw new Error(`category ${product.category_id} of product ${product.id} not found`);
      return category;
    },
    averageRating: (product) => (product.review_count > 0 ? Number(product.rating_avg) : null),
    reviewCount: (product) => product.review_count,
    reviews: (product, args, ctx) => listProductReviews(ctx, product, args),
    viewerCanReview: (product, _args, ctx) => canReview(ctx, product),
    createdAt: (product) => product.created_at,
    updatedAt: (product) => product.updated_at,
    deletedAt: (product) => product.deleted_at,
  },
  ProductConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
