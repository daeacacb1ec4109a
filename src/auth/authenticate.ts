import type { GraphQLContext } from '../graphql/context.js';
import { findApiKeyWithOwnerByPrefix, touchApiKey } from '../modules/accounts/api-key.repository.js';
import { provisionOidcUser } from '../modules/accounts/account.service.js';
import { isUserVisible } from '../modules/users/user.service.js';
import { InvalidTokenError, looksLikeJwt, unverifiedIssuer } from './access-tokens.js';
import { apiKeyPrefix, isApiKeyShaped, safeEqual, sha256 } from './secrets.js';
import { SCOPES, type Scope, type Viewer } from './viewer.js';

/** Credentials were sent but cannot be accepted; answered with 401 and `WWW-Authenticate`. */
export class AuthenticationError extends Error {
  constructor(readonly description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'AuthenticationError';
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,16384})$/;

/**
 * Resolves the `Authorization` header into a viewer: `null` when absent,
 * otherwise an access token of this server, a token of the configured OIDC
 * provider, or an API key. Bad credentials throw AuthenticationError: they
 * are never silently treated as anonymous. The user row is read through the
 * request's loader, so resolvers reuse it.
 */
export async function authenticate(ctx: GraphQLContext, header: string | undefined): Promise<Viewer | null> {
  if (header === undefined || header === '') return null;
  const match = BEARER.exec(header);
  if (!match) throw new AuthenticationError('Send credentials as `Authorization: Bearer <token>`.');
  const token = match[1] as string;
  if (isApiKeyShaped(token)) return authenticateApiKey(ctx, token);
  if (!looksLikeJwt(token)) throw new AuthenticationError('The bearer token is malformed.');
  if (ctx.auth.oidc && unverifiedIssuer(token) === ctx.auth.oidc.issuer) return authenticateOidc(ctx, token);
  return authenticateAccessToken(ctx, token);
}

function describe(error: unknown): string {
  if (error instanceof InvalidTokenError) return `The access token is invalid (${error.reason}).`;
  return 'The access token is invalid.';
}

async function authenticateAccessToken(ctx: GraphQLContext, token: string): Promise<Viewer> {
  let claims;
  try {
    claims = await ctx.auth.tokens.verify(token);
  } catch (error) {
    throw new AuthenticationError(describe(error), { cause: error });
  }
  // Role, deactivation and token version come from the database, so a change
  // takes effect on the next request even while the token is still valid.
  const [user, session] = await Promise.all([
    ctx.loaders.userById.load(claims.sub),
    claims.sid ? ctx.loaders.liveSessionByFamily.load(claims.sid) : Promise.resolve(null),
  ]);
  if (!user || !isUserVisible(user) || user.token_version !== claims.ver) {
    throw new AuthenticationError('The access token has been revoked.');
  }
  if (claims.sid && (!session || session.user_id !== user.id)) {
    throw new AuthenticationError('The session of this access token has ended.');
  }
  return { userId: user.id, role: user.role, via: 'session', sessionId: claims.sid ?? null, apiKeyId: null, scopes: null };
}

async function authenticateOidc(ctx: GraphQLContext, token: string): Promise<Viewer> {
  const verifier = ctx.auth.oidc;
  if (!verifier) throw new AuthenticationError('The access token is invalid.');
  let identity;
  try {
    identity = await verifier.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError && error.reason === 'key set unavailable') {
      ctx.log.error({ err: error }, 'OIDC key set unavailable');
    }
    throw new AuthenticationError(describe(error), { cause: error });
  }
  const user = await provisionOidcUser(ctx, identity);
  if (!isUserVisible(user)) throw new AuthenticationError('The account is deactivated.');
  return { userId: user.id, role: user.role, via: 'oidc', sessionId: null, apiKeyId: null, scopes: null };
}

async function authenticateApiKey(ctx: GraphQLContext, token: string): Promise<Viewer> {
  const prefix = apiKeyPrefix(token);
  if (!prefix) throw new AuthenticationError('The API key is malformed.');
  const found = await findApiKeyWithOwnerByPrefix(ctx.db, prefix);
  // Same message for unknown, wrong secret, revoked and expired keys.
  const invalid = new AuthenticationError('The API key is invalid, revoked or expired.');
  if (!found || !safeEqual(found.key.key_hash, sha256(token))) throw invalid;
  const { key, owner } = found;
  if (key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= new Date()) || !isUserVisible(owner)) {
    throw invalid;
  }
  ctx.loaders.userById.prime(owner.id, owner);
  recordKeyUse(ctx, key.id, key.last_used_at);
  const scopes = new Set(key.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)));
  return { userId: owner.id, role: owner.role, via: 'api_key', sessionId: null, apiKeyId: key.id, scopes };
}

const TOUCH_INTERVAL_MS = 60_000;

/**
 * Last-used time is coarse (a minute) so that using a key does not write on
 * every request: skipped when the row says it was recorded recently, and the
 * update itself is conditional, so concurrent instances write at most once.
 */
function recordKeyUse(ctx: GraphQLContext, keyId: string, lastUsedAt: Date | null): void {
  if (lastUsedAt && Date.now() - lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
  touchApiKey(ctx.db, keyId).catch((error: unknown) => ctx.log.warn({ err: error, keyId }, 'could not record API key use'));
}
