import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { AccountLoaders } from '../accounts/account.loaders.js';
import { listApiKeys } from '../accounts/api-key.service.js';
import { listLiveSessions } from '../accounts/session.service.js';
import { deactivateUser, setUserRole } from './admin.service.js';
import { updateProfile } from './profile.service.js';
import type { UserLoaders } from './user.loaders.js';

export const userResolvers: Resolvers<Scope<AccountLoaders & UserLoaders>> = {
  Mutation: {
    setUserRole: (_root, { input }, ctx) => setUserRole(ctx, { ...input, userId: idOfTypeOrNull(input.userId, 'User', 'input.userId') }),
    deactivateUser: (_root, { input }, ctx) => deactivateUser(ctx, { userId: idOfTypeOrNull(input.userId, 'User', 'input.userId') }),
    updateProfile: (_root, { input }, ctx) => updateProfile(ctx, input),
  },
  User: {
    id: (user) => toGlobalId('User', user.id),
    displayName: (user) => user.display_name,
    createdAt: (user) => user.created_at,
    deactivatedAt: (user) => user.deleted_at,
    sessions: (user, _args, ctx) => listLiveSessions(ctx, user.id),
    apiKeys: (user, _args, ctx) => listApiKeys(ctx, user.id),
  },
};
