import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId } from '../../graphql/global-id.js';
import { listCategoryProducts } from '../products/product.service.js';
import { getCategoryBySlug, listCategories } from './category.service.js';

export const categoryResolvers: Resolvers = {
  Query: {
    categories: (_root, _args, ctx) => listCategories(ctx),
    categoryBySlug: (_root, { slug }, ctx) => getCategoryBySlug(ctx, slug),
  },
  Category: {
    id: (category) => toGlobalId('Category', category.id),
    products: (category, args, ctx) => listCategoryProducts(ctx, category.id, args),
  },
};
