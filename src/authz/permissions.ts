import { allow } from './shield-lib.js';

import { canReadCatalog } from './rules.js';
import type { PermissionMap } from './shield.js';
import { accountPermissions } from '../modules/accounts/account.permissions.js';
import { auditPermissions } from '../modules/audit/audit.permissions.js';
import { categoryPermissions } from '../modules/categories/category.permissions.js';
import { productPermissions } from '../modules/products/product.permissions.js';
import { reviewPermissions } from '../modules/reviews/review.permissions.js';
import { userPermissions } from '../modules/users/user.permissions.js';

/** Rules for the shared types of schema/base.graphql. */
const basePermissions = {
  Query: {
    // Node fetchers apply each type's own visibility (sessions, keys and audit events only to their owners/admins).
    node: canReadCatalog,
    nodes: canReadCatalog,
  },
  PageInfo: { hasNextPage: allow, hasPreviousPage: allow, startCursor: allow, endCursor: allow },
  Money: { amount: allow, currency: allow },
  UserError: { field: allow, code: allow, message: allow },
};

/** Merges per-module maps type by type; a field defined twice is a mistake and stops start-up. */
export function mergePermissions(...maps: PermissionMap[]): PermissionMap {
  const merged: PermissionMap = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      const target = (merged[type] ??= {});
      for (const [field, rule] of Object.entries(fields)) {
        if (field in target) throw new Error(`Permission for ${type}.${field} is defined twice`);
        target[field] = rule;
      }
    }
  }
  return merged;
}

/** The whole permission map: every Query, Mutation and object field. */
export const permissions: PermissionMap = mergePermissions(
  basePermissions,
  userPermissions,
  categoryPermissions,
  productPermissions,
  reviewPermissions,
  accountPermissions,
  auditPermissions,
);
