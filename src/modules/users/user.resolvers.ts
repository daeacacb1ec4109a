import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId } from '../../graphql/global-id.js';

export const userResolvers: Resolvers = {
  User: {
    id: (user) => toGlobalId('User', user.id),
    displayName: (user) => user.display_name,
    createdAt: (user) => user.created_at,
  },
};
