import { defineModule } from '../module.js';
import { createUserLoaders } from './user.loaders.js';
import { userPermissions } from './user.permissions.js';
import { userResolvers } from './user.resolvers.js';
import { getUser } from './user.service.js';

export const usersModule = defineModule({
  name: 'users',
  schema: ['users.graphql', 'admin.graphql'],
  resolvers: userResolvers,
  permissions: userPermissions,
  createLoaders: createUserLoaders,
  nodeTypes: { User: (scope, id) => getUser(scope, id) },
});
