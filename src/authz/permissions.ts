import { allow } from './shield-lib.js';

import { canReadCatalog } from './rules.js';
import type { PermissionMap } from './shield.js';
import { modules } from '../modules/registry.js';

/** Rules for the shared types of schema/0-base.graphql. */
const basePermissions = {
  Query: {
    // Node fetchers apply each type's own visibility (sessions, keys and audit events only to their owners/admins).
    node: canReadCatalog,
    nodes: canReadCatalog,
  },
  PageInfo: { hasNextPage: allow, hasPreviousPage: allow, startCursor: allow, endCursor: allow },
  Money: { amount: allow, currency: allow },
  UserError: { field: allow, code: allow, message: allow, currentVersion: allow, availableQuantity: allow },
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

/** The whole permission map: every Query, Mutation and object field (each module brings its own). */
export const permissions: PermissionMap = mergePermissions(basePermissions, ...modules.map((module) => module.permissions));
