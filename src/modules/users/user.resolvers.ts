import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import { setUserRole } from './admin.service.js';
import { updateProfile } from './profile.service.js';
import type { UserLoaders } from './user.loaders.js';
import { getUser } from './user.service.js';

export const userResolvers: Resolvers<Scope<UserLoaders>> = {
  Mutation: {
    setUserRole: (_root, { input }, ctx) => setUserRole(ctx, { ...input, userId: idOfTypeOrNull(input.userId, 'User', 'input.userId') }),
    updateProfile: (_root, { input }, ctx) => updateProfile(ctx, input),
  },
  User: {
    id: (user) => toGlobalId('User', user.id),
    displayName: (user) => user.display_name,
    createdAt: (user) => user.created_at,
    deactivatedAt: (user) => user.deleted_at,
  },
  // schema/audit.users.graphql: the relation is the users module's, so is the field.
  AuditEvent: {
    actor: (event, _args, ctx) => (event.actor_id ? getUser(ctx, event.actor_id, { includeDeactivated: true }) : null),
  },
};
