import { defineModule } from '../module.js';
import { createAccountLoaders } from './account.loaders.js';
import { accountPermissions } from './account.permissions.js';
import { accountResolvers } from './account.resolvers.js';
import { getOwnApiKey } from './api-key.service.js';
import { getOwnSession } from './session.service.js';

export const accountsModule = defineModule({
  name: 'accounts',
  schema: ['accounts.graphql'],
  resolvers: accountResolvers,
  permissions: accountPermissions,
  createLoaders: createAccountLoaders,
  nodeTypes: { Session: getOwnSession, ApiKey: getOwnApiKey },
});
