import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, toGlobalId } from '../../graphql/global-id.js';
import { getCategory } from '../categories/category.service.js';
import { canReview, listProductReviews } from '../reviews/review.service.js';
import { getUser } from '../users/user.service.js';
import { getProduct, listProducts } from './product.service.js';

export const productResolvers: Resolvers = {
  Query: {
    products: (_root, args, ctx) => listProducts(ctx, args),
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
