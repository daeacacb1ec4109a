import type { AccountLoaders } from '../modules/accounts/account.loaders.js';
import { findApiKeyByPrefix, recordApiKeyUse } from '../modules/accounts/api-key.service.js';
import { provisionOidcUser } from '../modules/accounts/identity.service.js';
import type { UserLoaders } from '../modules/users/user.loaders.js';
import { isUserVisible, loadUserRow } from '../modules/users/user.service.js';
import type { Scope } from '../scope/scope.js';
import { InvalidTokenError, looksLikeJwt, unverifiedIssuer } from './access-tokens.js';
import { apiKeyPrefix, isApiKeyShaped, safeEqual, sha256 } from './secrets.js';
import { SCOPES, type Scope as ApiKeyScope, type Viewer } from './viewer.js';

/** Credentials were sent but cannot be accepted; answered with 401 and `WWW-Authenticate`. */
export class AuthenticationError extends Error {
  constructor(readonly description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'AuthenticationError';
  }
}

/** What authentication needs of a scope: the verifiers (`deps.auth`), the database and the user and session loaders. */
export type AuthenticationScope = Scope<UserLoaders & AccountLoaders>;

const BEARER = /^Bearer ([\x21-\x7e]{1,16384})$/;

/**
 * Resolves an `Authorization` header value into a viewer: `null` when absent,
 * otherwise an access token of this server, a token of the configured OIDC
 * provider, or an API key. Bad credentials throw AuthenticationError: they
 * are never silently treated as anonymous. The user row is read through the
 * scope's loader, so resolvers reuse it. Any transport can call it with a
 * scope (a WebSocket's connection parameters, for instance).
 */
export async function authenticate(scope: AuthenticationScope, header: string | undefined): Promise<Viewer | null> {
  if (header === undefined || header === '') return null;
  const match = BEARER.exec(header);
  if (!match) throw new AuthenticationError('Send credentials as `Authorization: Bearer <token>`.');
  const token = match[1] as string;
  if (isApiKeyShaped(token)) return authenticateApiKey(scope, token);
  if (!looksLikeJwt(token)) throw new AuthenticationError('The bearer token is malformed.');
  const { oidc } = scope.deps.auth;
  if (oidc && unverifiedIssuer(token) === oidc.issuer) return authenticateOidc(scope, token);
  return authenticateAccessToken(scope, token);
}

function describe(error: unknown): string {
  if (error instanceof InvalidTokenError) return `The access token is invalid (${error.reason}).`;
  return 'The access token is invalid.';
}

async function authenticateAccessToken(scope: AuthenticationScope, token: string): Promise<Viewer> {
  let claims;
  try {
    claims = await scope.deps.auth.tokens.verify(token);
  } catch (error) {
    throw new AuthenticationError(describe(error), { cause: error });
  }
  // Role, deactivation and token version come from the database, so a change
  // takes effect on the next request even while the token is still valid.
  const [user, session] = await Promise.all([
    loadUserRow(scope, claims.sub),
    claims.sid ? scope.loaders.liveSessionByFamily.load(claims.sid) : Promise.resolve(null),
  ]);
  if (!user || !isUserVisible(user) || user.token_version !== claims.ver) {
    throw new AuthenticationError('The access token has been revoked.');
  }
  if (claims.sid && (!session || session.user_id !== user.id)) {
    throw new AuthenticationError('The session of this access token has ended.');
  }
  return { userId: user.id, role: user.role, via: 'session', sessionId: claims.sid ?? null, apiKeyId: null, scopes: null };
}

async function authenticateOidc(scope: AuthenticationScope, token: string): Promise<Viewer> {
  const verifier = scope.deps.auth.oidc;
  if (!verifier) throw new AuthenticationError('The access token is invalid.');
  let identity;
  try {
    identity = await verifier.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError && error.reason === 'key set unavailable') {
      scope.log.error({ err: error }, 'OIDC key set unavailable');
    }
    throw new AuthenticationError(describe(error), { cause: error });
  }
  const user = await provisionOidcUser(scope, identity);
  if (!isUserVisible(user)) throw new AuthenticationError('The account is deactivated.');
  return { userId: user.id, role: user.role, via: 'oidc', sessionId: null, apiKeyId: null, scopes: null };
}

async function authenticateApiKey(scope: AuthenticationScope, token: string): Promise<Viewer> {
  const prefix = apiKeyPrefix(token);
  if (!prefix) throw new AuthenticationError('The API key is malformed.');
  const found = await findApiKeyByPrefix(scope, prefix);
  // Same message for unknown, wrong secret, revoked and expired keys.
  const invalid = new AuthenticationError('The API key is invalid, revoked or expired.');
  if (!found || !safeEqual(found.key.key_hash, sha256(token))) throw invalid;
  const { key, owner } = found;
  if (key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= new Date()) || !isUserVisible(owner)) {
    throw invalid;
  }
  recordApiKeyUse(scope, key);
  const scopes = new Set(key.scopes.filter((s): s is ApiKeyScope => (SCOPES as readonly string[]).includes(s)));
  return { userId: owner.id, role: owner.role, via: 'api_key', sessionId: null, apiKeyId: key.id, scopes };
}
