import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { CategoryLoaders } from './category.loaders.js';
import { createCategory, deleteCategory, getCategoryBySlug, listCategories, updateCategory } from './category.service.js';

export const categoryResolvers: Resolvers<Scope<CategoryLoaders>> = {
  Query: {
    categories: (_root, _args, ctx) => listCategories(ctx),
    categoryBySlug: (_root, { slug }, ctx) => getCategoryBySlug(ctx, slug),
  },
  Mutation: {
    createCategory: (_root, { input }, ctx) => createCategory(ctx, input),
    updateCategory: (_root, { input }, ctx) =>
      updateCategory(ctx, { ...input, categoryId: idOfTypeOrNull(input.categoryId, 'Category', 'input.categoryId') }),
    deleteCategory: async (_root, { input }, ctx) => {
      const categoryId = idOfTypeOrNull(input.categoryId, 'Category', 'input.categoryId');
      const result = await deleteCategory(ctx, { categoryId });
      return { deletedCategoryId: result.deleted && categoryId ? toGlobalId('Category', categoryId) : null, userErrors: result.userErrors };
    },
  },
  Category: {
    id: (category) => toGlobalId('Category', category.id),
  },
};
