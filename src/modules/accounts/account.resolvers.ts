import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { isScope, scopeFromName, scopeName } from '../../auth/viewer.js';
import { idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { loadUserRow } from '../users/user.service.js';
import type { AccountLoaders } from './account.loaders.js';
import { changePassword, signUp } from './account.service.js';
import { deactivateUser } from './admin.service.js';
import { createApiKey, listApiKeys, revokeApiKey } from './api-key.service.js';
import { listLiveSessions, logIn, logOut, logOutEverywhere, refreshSession, revokeSession } from './session.service.js';

export const accountResolvers: Resolvers<Scope<AccountLoaders & UserLoaders>> = {
  Query: {
    viewer: (_root, _args, ctx) => (ctx.viewer ? loadUserRow(ctx, ctx.viewer.userId) : null),
  },
  Mutation: {
    signUp: (_root, { input }, ctx) => signUp(ctx, input),
    logIn: (_root, { input }, ctx) => logIn(ctx, input),
    refreshSession: (_root, { input }, ctx) => refreshSession(ctx, input),
    logOut: (_root, { input }, ctx) => logOut(ctx, input),
    logOutEverywhere: (_root, _args, ctx) => logOutEverywhere(ctx),
    changePassword: (_root, { input }, ctx) => changePassword(ctx, input),
    revokeSession: (_root, { input }, ctx) =>
      revokeSession(ctx, { sessionId: idOfTypeOrNull(input.sessionId, 'Session', 'input.sessionId') }),
    createApiKey: (_root, { input }, ctx) => createApiKey(ctx, { ...input, scopes: input.scopes.map(scopeFromName) }),
    revokeApiKey: (_root, { input }, ctx) => revokeApiKey(ctx, { apiKeyId: idOfTypeOrNull(input.apiKeyId, 'ApiKey', 'input.apiKeyId') }),
    deactivateUser: (_root, { input }, ctx) => deactivateUser(ctx, { userId: idOfTypeOrNull(input.userId, 'User', 'input.userId') }),
  },
  // schema/users.sessions.graphql: the relation is the accounts module's, so are the fields.
  User: {
    sessions: (user, _args, ctx) => listLiveSessions(ctx, user.id),
    apiKeys: (user, _args, ctx) => listApiKeys(ctx, user.id),
  },
  Session: {
    // A session is a refresh-token family: its id stays the same across rotations.
    id: (session) => toGlobalId('Session', session.family_id),
    createdAt: (session) => session.signed_in_at,
    lastRefreshedAt: (session) => session.created_at,
    expiresAt: (session) => session.expires_at,
    userAgent: (session) => session.user_agent,
    current: (session, _args, ctx) => session.family_id === ctx.viewer?.sessionId,
  },
  ApiKey: {
    id: (key) => toGlobalId('ApiKey', key.id),
    scopes: (key) => key.scopes.filter(isScope).map(scopeName),
    createdAt: (key) => key.created_at,
    expiresAt: (key) => key.expires_at,
    lastUsedAt: (key) => key.last_used_at,
    revokedAt: (key) => key.revoked_at,
  },
};
