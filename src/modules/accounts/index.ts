import * as m0006 from '../../../migrations/2026_11_24_0006_auth.js';
import { defineModule } from '../module.js';
import { createAccountLoaders } from './account.loaders.js';
import { accountPermissions } from './account.permissions.js';
import { accountResolvers } from './account.resolvers.js';
import { getOwnApiKey } from './api-key.service.js';
import { purgeSessionsTask } from './session-purge.service.js';
import { getOwnSession } from './session.service.js';

declare module '../audit/audit.service.js' {
  interface AuditActions {
    SIGNED_UP: true;
    LOGIN_SUCCEEDED: true;
    LOGIN_FAILED: true;
    LOGGED_OUT: true;
    LOGGED_OUT_EVERYWHERE: true;
    PASSWORD_CHANGED: true;
    SESSION_REVOKED: true;
    REFRESH_TOKEN_REUSED: true;
    API_KEY_CREATED: true;
    API_KEY_REVOKED: true;
    USER_DEACTIVATED: true;
    OIDC_USER_PROVISIONED: true;
  }
}

export const accountsModule = defineModule({
  name: 'accounts',
  schema: ['accounts.graphql', 'users.sessions.graphql', 'admin.accounts.graphql'],
  resolvers: accountResolvers,
  permissions: accountPermissions,
  createLoaders: createAccountLoaders,
  nodeTypes: { Session: getOwnSession, ApiKey: getOwnApiKey },
  // Also creates audit_events (one migration of history, never edited).
  tables: ['api_keys', 'sessions', 'user_identities'],
  migrations: { '2026_11_24_0006_auth': m0006 },
  // Sessions and keys are never in a shared (cached) response; no change kind.
  changeTags: {},
  tasks: { 'accounts.purgeSessions': purgeSessionsTask },
  // Hourly, at minute 37; no backfill (a missed hour is caught up by the next run).
  schedules: ['37 * * * * accounts.purgeSessions ?max=3'],
});
