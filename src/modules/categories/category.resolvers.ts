import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import { decodeProductFilter } from '../products/product.resolvers.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { CategoryLoaders } from './category.loaders.js';
import { listCategoryProducts } from '../products/product.service.js';
import { getCategoryBySlug, listCategories } from './category.service.js';

export const categoryResolvers: Resolvers<Scope<CategoryLoaders & ProductLoaders>> = {
  Query: {
    categories: (_root, _args, ctx) => listCategories(ctx),
    categoryBySlug: (_root, { slug }, ctx) => getCategoryBySlug(ctx, slug),
  },
  Category: {
    id: (category) => toGlobalId('Category', category.id),
    products: (category, args, ctx) => listCategoryProducts(ctx, category.id, { ...args, filter: decodeProductFilter(args.filter) }),
  },
};
