import * as m0001 from '../../../migrations/2026_11_24_0001_users.js';
import { objectTag, setTag } from '../../cache/tag-names.js';
import { defineModule } from '../module.js';
import { createUserLoaders } from './user.loaders.js';
import { userPermissions } from './user.permissions.js';
import { userResolvers } from './user.resolvers.js';
import { getUser } from './user.service.js';

declare module '../../scope/change-feed.js' {
  interface ChangeKinds {
    /** Public profile fields of a user (display name, role, deletion). */
    user: { id: string };
  }
}

declare module '../audit/audit.service.js' {
  interface AuditActions {
    ROLE_CHANGED: true;
  }
}

export const usersModule = defineModule({
  name: 'users',
  schema: ['users.graphql', 'admin.graphql', 'audit.users.graphql'],
  resolvers: userResolvers,
  permissions: userPermissions,
  createLoaders: createUserLoaders,
  nodeTypes: { User: (scope, id) => getUser(scope, id) },
  tables: ['users'],
  migrations: { '2026_11_24_0001_users': m0001 },
  changeTags: {
    user: (change) => [objectTag('User', change.id), setTag('User')],
  },
});
