import { allow } from '../../authz/shield-lib.js';

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
