import { allow } from 'graphql-shield';

import { canReadCatalog, includeDeletedOnlyForAdmins } from '../../authz/rules.js';

export const categoryPermissions = {
  Query: {
    categories: canReadCatalog,
    categoryBySlug: canReadCatalog,
  },
  Category: {
    id: allow,
    name: allow,
    slug: allow,
    products: includeDeletedOnlyForAdmins,
  },
};
