import { allow, and } from '../../authz/shield-lib.js';

import { isAdmin, isPersonalSession, isSelf, ownsParent } from '../../authz/rules.js';

const payload = { userErrors: allow };

export const accountPermissions = {
  Query: {
    viewer: allow,
  },
  Mutation: {
    // Anonymous by nature: they are how a caller gets credentials.
    signUp: allow,
    logIn: allow,
    refreshSession: allow,
    // Works with a refresh token (or cookie) alone, after the access token expired.
    logOut: allow,
    logOutEverywhere: isPersonalSession,
    changePassword: isPersonalSession,
    revokeSession: isPersonalSession,
    createApiKey: isPersonalSession,
    revokeApiKey: isPersonalSession,
    deactivateUser: and(isAdmin, isPersonalSession),
  },
  User: {
    sessions: and(isSelf, isPersonalSession),
    apiKeys: and(isSelf, isPersonalSession),
  },
  DeactivateUserPayload: { user: allow, userErrors: allow },
  AuthPayload: {
    ...payload,
    user: allow,
    accessToken: allow,
    accessTokenExpiresAt: allow,
    refreshToken: allow,
    refreshTokenExpiresAt: allow,
  },
  LogOutPayload: { ...payload, endedSessions: allow },
  ChangePasswordPayload: { ...payload, user: allow },
  RevokeSessionPayload: { ...payload, session: allow },
  CreateApiKeyPayload: { ...payload, apiKey: allow, plaintextKey: allow },
  RevokeApiKeyPayload: { ...payload, apiKey: allow },
  Session: {
    id: ownsParent,
    createdAt: ownsParent,
    lastRefreshedAt: ownsParent,
    expiresAt: ownsParent,
    userAgent: ownsParent,
    ip: ownsParent,
    current: ownsParent,
  },
  ApiKey: {
    id: ownsParent,
    name: ownsParent,
    prefix: ownsParent,
    scopes: ownsParent,
    createdAt: ownsParent,
    expiresAt: ownsParent,
    lastUsedAt: ownsParent,
    revokedAt: ownsParent,
  },
};
