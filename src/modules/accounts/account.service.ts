import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, verifyPassword } from '../../auth/passwords.js';
import { newApiKey, newRefreshToken, REFRESH_TOKEN_SHAPE, sha256 } from '../../auth/secrets.js';
import type { OidcIdentity } from '../../auth/oidc.js';
import { SCOPES, type Scope } from '../../auth/viewer.js';
import type { Database } from '../../db/database.js';
import { appError } from '../../errors/errors.js';
import { UserErrorList, type UserErrorData } from '../../errors/user-errors.js';
import type { ServiceContext } from '../../graphql/context.js';
import { fromGlobalId } from '../../graphql/global-id.js';
import { recordAudit } from '../audit/audit.service.js';
import { findUserByEmail, insertUser, lockUserById, updateUserAndBumpTokenVersion } from '../users/user.repository.js';
import type { UserRow } from '../users/user.table.js';
import { insertApiKey, revokeApiKeyOfUser } from './api-key.repository.js';
import type { ApiKeyRow } from './api-key.table.js';
import { findUserIdByIdentity, insertIdentity } from './identity.repository.js';
import {
  insertSession,
  lockSessionByTokenHash,
  markSessionReplaced,
  revokeSessionFamily,
  revokeUserSessions,
} from './session.repository.js';
import type { SessionRow } from './session.table.js';

/** The refresh cookie: `__Host-` binds it to this origin over HTTPS, at Path=/, with no Domain. */
export const REFRESH_COOKIE = '__Host-refresh_token';

export type RefreshTokenDelivery = 'COOKIE' | 'PAYLOAD';

export interface AuthResult {
  user: UserRow | null;
  accessToken: string | null;
  accessTokenExpiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
  userErrors: UserErrorData[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Unicode control characters (category Cc): never part of a name. */
const CONTROL_CHARACTERS = /\p{Cc}/u;
const MAX_API_KEY_LIFETIME_MS = 366 * 24 * 3600 * 1000;

function authFailure(errors: UserErrorData[]): AuthResult {
  return { user: null, accessToken: null, accessTokenExpiresAt: null, refreshToken: null, refreshTokenExpiresAt: null, userErrors: errors };
}

function invalidCredentials(field: string[] | null, message: string): AuthResult {
  return authFailure([{ field, code: 'INVALID_CREDENTIALS', message }]);
}

/** Browsers send Origin on POST; they get the refresh token as a cookie, other clients in the payload. */
function defaultDelivery(ctx: ServiceContext): RefreshTokenDelivery {
  return ctx.request.origin ? 'COOKIE' : 'PAYLOAD';
}

/** Stops the request with RATE_LIMITED and Retry-After when the brute-force budget is spent. */
async function enforceBruteForceLimit(ctx: ServiceContext, email: string): Promise<void> {
  const decision = await ctx.auth.limiter.check({ ip: ctx.request.ip, email });
  if (!decision.allowed) {
    ctx.request.setHeader('retry-after', String(decision.retryAfterSeconds));
    ctx.log.warn({ limitedBy: decision.limitedBy }, 'sign-in attempts rate limited');
    throw appError('RATE_LIMITED', `Too many attempts. Retry in ${decision.retryAfterSeconds} seconds.`, {
      retryAfterSeconds: decision.retryAfterSeconds,
    });
  }
}

function checkPassword(errors: UserErrorList, field: string[], password: string): void {
  if (password.length === 0) errors.add(field, 'REQUIRED', 'Enter a password.');
  else if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    errors.add(field, 'INVALID', `Passwords are ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long.`);
  }
}

/**
 * Starts a session (or continues a family on refresh): stores the hashed
 * refresh token, signs an access token bound to the family, and hands the
 * refresh token over by cookie or payload.
 */
async function issueSession(
  ctx: ServiceContext,
  trx: Kysely<Database>,
  user: UserRow,
  delivery: RefreshTokenDelivery,
  family?: { id: string; signedInAt: Date },
): Promise<{ session: SessionRow; result: AuthResult }> {
  const refreshToken = newRefreshToken();
  const expiresAt = new Date(Date.now() + ctx.auth.refreshTokenTtlDays * 86_400_000);
  const session = await insertSession(trx, {
    user_id: user.id,
    family_id: family?.id ?? randomUUID(),
    token_hash: sha256(refreshToken),
    ...(family ? { signed_in_at: family.signedInAt } : {}),
    expires_at: expiresAt,
    user_agent: ctx.request.userAgent?.slice(0, 512) ?? null,
    ip: ctx.request.ip.slice(0, 64),
  });
  const access = await ctx.auth.tokens.sign({ sub: user.id, ver: user.token_version, sid: session.family_id });
  if (delivery === 'COOKIE') {
    ctx.request.setCookie(REFRESH_COOKIE, refreshToken, { maxAgeSeconds: ctx.auth.refreshTokenTtlDays * 86_400 });
  }
  // The rest of this request (the payload's `user { email }`) is answered for the newly signed-in user.
  ctx.viewer = { userId: user.id, role: user.role, via: 'session', sessionId: session.family_id, apiKeyId: null, scopes: null };
  return {
    session,
    result: {
      user,
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: delivery === 'PAYLOAD' ? refreshToken : null,
      refreshTokenExpiresAt: expiresAt,
      userErrors: [],
    },
  };
}

export interface SignUpInput {
  email: string;
  password: string;
  displayName: string;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

export async function signUp(ctx: ServiceContext, input: SignUpInput): Promise<AuthResult> {
  const email = input.email.trim();
  const displayName = input.displayName.trim();
  const errors = new UserErrorList();
  if (email.length === 0) errors.add(['input', 'email'], 'REQUIRED', 'Enter an email address.');
  else if (email.length > 254 || !EMAIL.test(email)) errors.add(['input', 'email'], 'INVALID', 'Enter a valid email address.');
  checkPassword(errors, ['input', 'password'], input.password);
  if (displayName.length === 0) errors.add(['input', 'displayName'], 'REQUIRED', 'Enter a display name.');
  else if (displayName.length > 80 || CONTROL_CHARACTERS.test(displayName)) {
    errors.add(['input', 'displayName'], 'INVALID', 'Display names are 1 to 80 printable characters.');
  }
  if (errors.any) return authFailure(errors.list);

  await enforceBruteForceLimit(ctx, email);
  const passwordHash = await hashPassword(input.password);
  const attempt = { ip: ctx.request.ip, email };
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    if (await findUserByEmail(trx, email)) return null;
    const user = await insertUser(trx, { email, display_name: displayName, role: 'CUSTOMER', password_hash: passwordHash });
    const issued = await issueSession(ctx, trx, user, input.refreshTokenDelivery ?? defaultDelivery(ctx));
    await recordAudit(ctx, { action: 'SIGNED_UP', actorId: user.id, targetType: 'User', targetId: user.id }, trx);
    return issued.result;
  }).catch((error: unknown) => {
    // Two sign-ups for one email at once: the unique index decides.
    if (isUniqueViolation(error)) return null;
    throw error;
  });
  if (!outcome) {
    await ctx.auth.limiter.recordFailure(attempt);
    return authFailure([{ field: ['input', 'email'], code: 'TAKEN', message: 'An account with this email address already exists.' }]);
  }
  await ctx.auth.limiter.recordSuccess(attempt);
  return outcome;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export interface LogInInput {
  email: string;
  password: string;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

export async function logIn(ctx: ServiceContext, input: LogInInput): Promise<AuthResult> {
  const email = input.email.trim();
  const errors = new UserErrorList();
  if (email.length === 0) errors.add(['input', 'email'], 'REQUIRED', 'Enter your email address.');
  if (input.password.length === 0) errors.add(['input', 'password'], 'REQUIRED', 'Enter your password.');
  if (errors.any) return authFailure(errors.list);

  await enforceBruteForceLimit(ctx, email);
  const attempt = { ip: ctx.request.ip, email };
  // Long inputs are rejected by verifyPassword's cost anyway; cap them so argon2 never hashes megabytes.
  const user = email.length <= 254 ? await findUserByEmail(ctx.db, email) : undefined;
  const passwordOk = await verifyPassword(user?.password_hash, input.password.slice(0, PASSWORD_MAX_LENGTH + 1));
  if (!user || !passwordOk || user.deleted_at !== null || input.password.length > PASSWORD_MAX_LENGTH) {
    await ctx.auth.limiter.recordFailure(attempt);
    await recordAudit(ctx, {
      action: 'LOGIN_FAILED',
      actorId: null,
      targetType: user ? 'User' : undefined,
      targetId: user?.id,
      metadata: { email: email.toLowerCase().slice(0, 254) },
    });
    // One answer for unknown email, wrong password and deactivated account.
    return invalidCredentials(null, 'The email address or password is not correct.');
  }
  await ctx.auth.limiter.recordSuccess(attempt);
  return ctx.db.transaction().execute(async (trx) => {
    const issued = await issueSession(ctx, trx, user, input.refreshTokenDelivery ?? defaultDelivery(ctx));
    await recordAudit(ctx, { action: 'LOGIN_SUCCEEDED', actorId: user.id, targetType: 'Session', targetId: issued.session.family_id }, trx);
    return issued.result;
  });
}

export interface RefreshInput {
  refreshToken?: string | null;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

type RefreshOutcome = { kind: 'ok'; result: AuthResult } | { kind: 'invalid' } | { kind: 'reused' };

/**
 * Rotates a refresh token. The row is locked, so two refreshes with one token
 * cannot both succeed: the second sees a rotated token, which is exactly what
 * a stolen copy looks like, and the whole family is revoked (the revocation
 * and its audit event commit even though the request fails).
 */
export async function refreshSession(ctx: ServiceContext, input: RefreshInput): Promise<AuthResult> {
  const fromCookie = input.refreshToken == null;
  const token = input.refreshToken ?? ctx.request.cookie(REFRESH_COOKIE);
  const field = fromCookie ? null : ['input', 'refreshToken'];
  if (!token) return authFailure([{ field: ['input', 'refreshToken'], code: 'REQUIRED', message: 'Send the refresh token, or the refresh cookie.' }]);
  if (!REFRESH_TOKEN_SHAPE.test(token)) return rejectRefresh(ctx, fromCookie, field);

  const outcome = await ctx.db.transaction().execute(async (trx): Promise<RefreshOutcome> => {
    const current = await lockSessionByTokenHash(trx, sha256(token));
    if (!current) return { kind: 'invalid' };
    if (current.replaced_by !== null) {
      const revoked = await revokeSessionFamily(trx, current.family_id, 'REUSE_DETECTED');
      await recordAudit(
        ctx,
        { action: 'REFRESH_TOKEN_REUSED', actorId: current.user_id, targetType: 'Session', targetId: current.family_id, metadata: { revokedRows: revoked } },
        trx,
      );
      return { kind: 'reused' };
    }
    if (current.revoked_at !== null || current.expires_at <= new Date()) return { kind: 'invalid' };
    const user = await lockUserById(trx, current.user_id);
    if (!user || user.deleted_at !== null) return { kind: 'invalid' };
    const delivery = input.refreshTokenDelivery ?? (fromCookie ? 'COOKIE' : 'PAYLOAD');
    const issued = await issueSession(ctx, trx, user, delivery, { id: current.family_id, signedInAt: current.signed_in_at });
    await markSessionReplaced(trx, current.id, issued.session.id);
    return { kind: 'ok', result: issued.result };
  });
  if (outcome.kind === 'ok') return outcome.result;
  if (outcome.kind === 'reused') ctx.log.warn('refresh token reuse detected; session family revoked');
  return rejectRefresh(ctx, fromCookie, field);
}

function rejectRefresh(ctx: ServiceContext, fromCookie: boolean, field: string[] | null): AuthResult {
  if (fromCookie) ctx.request.clearCookie(REFRESH_COOKIE);
  return invalidCredentials(field, 'The refresh token is invalid, expired or revoked. Log in again.');
}

export interface LogOutResult {
  endedSessions: number;
  userErrors: UserErrorData[];
}

/** Ends one session: the one of the given refresh token or cookie, else the one of the access token in use. */
export async function logOut(ctx: ServiceContext, input: { refreshToken?: string | null }): Promise<LogOutResult> {
  const token = input.refreshToken ?? ctx.request.cookie(REFRESH_COOKIE);
  ctx.request.clearCookie(REFRESH_COOKIE);
  const ended = await ctx.db.transaction().execute(async (trx) => {
    let familyId: string | null = null;
    let userId: string | null = null;
    if (token && REFRESH_TOKEN_SHAPE.test(token)) {
      const session = await lockSessionByTokenHash(trx, sha256(token));
      if (session) ({ family_id: familyId, user_id: userId } = session);
    } else if (ctx.viewer?.sessionId) {
      familyId = ctx.viewer.sessionId;
      userId = ctx.viewer.userId;
    }
    if (!familyId || !userId) return null;
    const count = await revokeSessionFamily(trx, familyId, 'LOGOUT', userId);
    await recordAudit(ctx, { action: 'LOGGED_OUT', actorId: userId, targetType: 'Session', targetId: familyId }, trx);
    return count > 0 ? 1 : 0;
  });
  if (ended === null) {
    return { endedSessions: 0, userErrors: [{ field: ['input', 'refreshToken'], code: 'REQUIRED', message: 'Send the refresh token of the session to end, or use a session access token.' }] };
  }
  return { endedSessions: ended, userErrors: [] };
}

function requireViewer(ctx: ServiceContext) {
  // The permission layer already refused anonymous callers; this guards misuse of the service.
  if (!ctx.viewer) throw appError('UNAUTHENTICATED');
  return ctx.viewer;
}

/** Ends every session and invalidates every access token of the signed-in user. */
export async function logOutEverywhere(ctx: ServiceContext): Promise<LogOutResult> {
  const viewer = requireViewer(ctx);
  ctx.request.clearCookie(REFRESH_COOKIE);
  const ended = await ctx.db.transaction().execute(async (trx) => {
    await updateUserAndBumpTokenVersion(trx, viewer.userId, {});
    const count = await revokeUserSessions(trx, viewer.userId, 'LOGOUT_EVERYWHERE');
    await recordAudit(ctx, { action: 'LOGGED_OUT_EVERYWHERE', actorId: viewer.userId, targetType: 'User', targetId: viewer.userId, metadata: { endedSessions: count } }, trx);
    return count;
  });
  return { endedSessions: ended, userErrors: [] };
}

export async function changePassword(
  ctx: ServiceContext,
  input: { currentPassword: string; newPassword: string },
): Promise<{ user: UserRow | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(ctx);
  const errors = new UserErrorList();
  if (input.currentPassword.length === 0) errors.add(['input', 'currentPassword'], 'REQUIRED', 'Enter your current password.');
  checkPassword(errors, ['input', 'newPassword'], input.newPassword);
  if (errors.any) return { user: null, userErrors: errors.list };

  const user = await ctx.loaders.userById.load(viewer.userId);
  if (!user) throw appError('UNAUTHENTICATED');
  await enforceBruteForceLimit(ctx, user.email);
  const attempt = { ip: ctx.request.ip, email: user.email };
  if (!(await verifyPassword(user.password_hash, input.currentPassword.slice(0, PASSWORD_MAX_LENGTH + 1)))) {
    await ctx.auth.limiter.recordFailure(attempt);
    return { user: null, userErrors: [{ field: ['input', 'currentPassword'], code: 'INVALID_CREDENTIALS', message: 'The current password is not correct.' }] };
  }
  await ctx.auth.limiter.recordSuccess(attempt);
  const passwordHash = await hashPassword(input.newPassword);
  ctx.request.clearCookie(REFRESH_COOKIE);
  const updated = await ctx.db.transaction().execute(async (trx) => {
    const row = await updateUserAndBumpTokenVersion(trx, viewer.userId, { password_hash: passwordHash });
    await revokeUserSessions(trx, viewer.userId, 'PASSWORD_CHANGED');
    await recordAudit(ctx, { action: 'PASSWORD_CHANGED', actorId: viewer.userId, targetType: 'User', targetId: viewer.userId }, trx);
    return row;
  });
  return { user: updated ?? null, userErrors: [] };
}

/** Ends one of the viewer's sessions. Someone else's session answers exactly like a missing one. */
export async function revokeSession(
  ctx: ServiceContext,
  input: { sessionId: string },
): Promise<{ session: SessionRow | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(ctx);
  const notFound = { session: null, userErrors: [{ field: ['input', 'sessionId'], code: 'NOT_FOUND' as const, message: 'No such session.' }] };
  const decoded = fromGlobalId(input.sessionId, 'input.sessionId');
  if (decoded.type !== 'Session') return notFound;
  const session = await ctx.loaders.liveSessionByFamily.load(decoded.id);
  if (!session || session.user_id !== viewer.userId) return notFound;
  await ctx.db.transaction().execute(async (trx) => {
    await revokeSessionFamily(trx, session.family_id, 'REVOKED_BY_USER', viewer.userId);
    await recordAudit(ctx, { action: 'SESSION_REVOKED', actorId: viewer.userId, targetType: 'Session', targetId: session.family_id }, trx);
  });
  return { session: { ...session, revoked_at: new Date(), revoked_reason: 'REVOKED_BY_USER' }, userErrors: [] };
}

export interface CreateApiKeyInput {
  name: string;
  scopes: readonly string[];
  expiresAt?: Date | string | null;
}

export async function createApiKey(
  ctx: ServiceContext,
  input: CreateApiKeyInput,
): Promise<{ apiKey: ApiKeyRow | null; plaintextKey: string | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(ctx);
  const name = input.name.trim();
  const errors = new UserErrorList();
  if (name.length === 0) errors.add(['input', 'name'], 'REQUIRED', 'Enter a name for the key.');
  else if (name.length > 100 || CONTROL_CHARACTERS.test(name)) errors.add(['input', 'name'], 'INVALID', 'Key names are 1 to 100 printable characters.');
  const scopes = [...new Set(input.scopes)].filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0) errors.add(['input', 'scopes'], 'REQUIRED', 'Choose at least one scope.');
  let expiresAt: Date | null = null;
  if (input.expiresAt != null) {
    expiresAt = new Date(input.expiresAt);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt <= new Date()) {
      errors.add(['input', 'expiresAt'], 'INVALID', 'The expiry must be in the future.');
    } else if (expiresAt.getTime() - Date.now() > MAX_API_KEY_LIFETIME_MS) {
      errors.add(['input', 'expiresAt'], 'INVALID', 'Keys expire at most one year ahead.');
    }
  }
  if (errors.any) return { apiKey: null, plaintextKey: null, userErrors: errors.list };

  const { key, prefix } = newApiKey();
  const apiKey = await ctx.db.transaction().execute(async (trx) => {
    const row = await insertApiKey(trx, { user_id: viewer.userId, name, prefix, key_hash: sha256(key), scopes, expires_at: expiresAt });
    await recordAudit(ctx, { action: 'API_KEY_CREATED', actorId: viewer.userId, targetType: 'ApiKey', targetId: row.id, metadata: { scopes, prefix } }, trx);
    return row;
  });
  return { apiKey, plaintextKey: key, userErrors: [] };
}

/** Revokes one of the viewer's keys. Someone else's key answers exactly like a missing one. */
export async function revokeApiKey(
  ctx: ServiceContext,
  input: { apiKeyId: string },
): Promise<{ apiKey: ApiKeyRow | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(ctx);
  const notFound = { apiKey: null, userErrors: [{ field: ['input', 'apiKeyId'], code: 'NOT_FOUND' as const, message: 'No such active API key.' }] };
  const decoded = fromGlobalId(input.apiKeyId, 'input.apiKeyId');
  if (decoded.type !== 'ApiKey') return notFound;
  const revoked = await ctx.db.transaction().execute(async (trx) => {
    const row = await revokeApiKeyOfUser(trx, decoded.id, viewer.userId);
    if (row) await recordAudit(ctx, { action: 'API_KEY_REVOKED', actorId: viewer.userId, targetType: 'ApiKey', targetId: row.id }, trx);
    return row;
  });
  return revoked ? { apiKey: revoked, userErrors: [] } : notFound;
}

/**
 * Finds the user of an external identity, creating the account on first use.
 * The provider's email is used only when it is verified and not taken (an
 * unverified or colliding email must not take over an existing account).
 */
export async function provisionOidcUser(ctx: ServiceContext, identity: OidcIdentity): Promise<UserRow> {
  const existingId = await findUserIdByIdentity(ctx.db, identity.issuer, identity.subject);
  if (existingId) {
    const user = await ctx.loaders.userById.load(existingId);
    if (user) return user;
  }
  const created = await ctx.db.transaction().execute(async (trx) => {
    const emailFree = identity.email && identity.emailVerified && !(await findUserByEmail(trx, identity.email));
    const email = emailFree && identity.email ? identity.email : `${sha256(`${identity.issuer}|${identity.subject}`).toString('hex').slice(0, 24)}@oidc.invalid`;
    const displayName = (identity.name ?? '').trim().slice(0, 80) || 'New user';
    const user = await insertUser(trx, { email, display_name: displayName, role: 'CUSTOMER', password_hash: null });
    if (!(await insertIdentity(trx, user.id, identity.issuer, identity.subject))) {
      throw new IdentityRaceError();
    }
    await recordAudit(ctx, { action: 'OIDC_USER_PROVISIONED', actorId: user.id, targetType: 'User', targetId: user.id, metadata: { issuer: identity.issuer } }, trx);
    return user;
  }).catch(async (error: unknown) => {
    // A concurrent first request linked the identity: use that account.
    if (error instanceof IdentityRaceError || isUniqueViolation(error)) {
      const id = await findUserIdByIdentity(ctx.db, identity.issuer, identity.subject);
      const user = id ? await ctx.loaders.userById.load(id) : null;
      if (user) return user;
    }
    throw error;
  });
  ctx.loaders.userById.prime(created.id, created);
  return created;
}

class IdentityRaceError extends Error {}
