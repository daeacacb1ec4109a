import { allow, and } from '../../authz/shield-lib.js';

import { isAdmin, isPersonalSession, isSelfOrAdmin } from '../../authz/rules.js';

export const userPermissions = {
  Mutation: {
    setUserRole: and(isAdmin, isPersonalSession),
    // The account's own profile: any signed-in person; API keys never change account data (no scope grants it).
    updateProfile: isPersonalSession,
  },
  User: {
    id: allow,
    displayName: allow,
    createdAt: allow,
    email: isSelfOrAdmin,
    role: isSelfOrAdmin,
    deactivatedAt: isAdmin,
  },
  SetUserRolePayload: { user: allow, userErrors: allow },
  UpdateProfilePayload: { user: allow, userErrors: allow },
  AuditEvent: { actor: isAdmin },
};
