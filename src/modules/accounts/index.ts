import { defineModule } from '../module.js';
import { createAccountLoaders } from './account.loaders.js';
import { accountPermissions } from './account.permissions.js';
import { accountResolvers } from './account.resolvers.js';
import { getOwnApiKey } from './api-key.service.js';
import type { ApiKeyTable } from './api-key.table.js';
import type { UserIdentityTable } from './identity.table.js';
import { getOwnSession } from './session.service.js';
import type { SessionTable } from './session.table.js';

export interface AccountTables {
  sessions: SessionTable;
  api_keys: ApiKeyTable;
  user_identities: UserIdentityTable;
}

export const accountsModule = defineModule({
  name: 'accounts',
  schema: ['accounts.graphql'],
  resolvers: accountResolvers,
  permissions: accountPermissions,
  createLoaders: createAccountLoaders,
  nodeTypes: { Session: getOwnSession, ApiKey: getOwnApiKey },
});
