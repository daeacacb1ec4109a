import { allow } from '../../authz/shield-lib.js';

import { canReadCatalog, isAdmin } from '../../authz/rules.js';

const payload = { category: allow, userErrors: allow };

export const categoryPermissions = {
  Query: {
    categories: canReadCatalog,
    categoryBySlug: canReadCatalog,
  },
  Mutation: {
    createCategory: isAdmin,
    updateCategory: isAdmin,
    deleteCategory: isAdmin,
  },
  CreateCategoryPayload: payload,
  UpdateCategoryPayload: payload,
  DeleteCategoryPayload: { deletedCategoryId: allow, userErrors: allow },
  Category: {
    id: allow,
    name: allow,
    slug: allow,
  },
};
