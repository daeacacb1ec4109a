import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId } from '../../graphql/global-id.js';
import { deactivateUser, setUserRole } from './admin.service.js';

export const userResolvers: Resolvers = {
  Mutation: {
    setUserRole: (_root, { input }, ctx) => setUserRole(ctx, input),
    deactivateUser: (_root, { input }, ctx) => deactivateUser(ctx, input),
  },
  User: {
    id: (user) => toGlobalId('User', user.id),
    displayName: (user) => user.display_name,
    createdAt: (user) => user.created_at,
    deactivatedAt: (user) => user.deleted_at,
    sessions: (user, _args, ctx) => ctx.loaders.liveSessionsByUser.load(user.id),
    apiKeys: (user, _args, ctx) => ctx.loaders.apiKeysByUser.load(user.id),
  },
};
