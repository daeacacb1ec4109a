import { randomUUID } from 'node:crypto';

import { PASSWORD_MAX_LENGTH, verifyPassword } from '../../auth/passwords.js';
import { newRefreshToken, REFRESH_TOKEN_SHAPE, sha256 } from '../../auth/secrets.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import { UserErrorList, type UserErrorData } from '../../errors/user-errors.js';
import { actAs, clearCookie, setCookie, type Effect } from '../../scope/effects.js';
import type { Scope } from '../../scope/scope.js';
import { recordAudit } from '../audit/audit.service.js';
import { findUserByEmail, lockUser, updateUserEndingTokens } from '../users/user.service.js';
import type { UserRow } from '../users/user.table.js';
import type { AccountLoaders } from './account.loaders.js';
import {
  authFailure,
  defaultDelivery,
  enforceBruteForceLimit,
  invalidCredentials,
  REFRESH_COOKIE,
  type AuthResult,
  type RefreshTokenDelivery,
} from './credentials.js';
import {
  insertSession,
  lockSessionByTokenHash,
  markSessionReplaced,
  revokeSessionFamily,
  revokeUserSessions,
} from './session.repository.js';
import type { SessionRevokedReason, SessionRow } from './session.table.js';
import { countLoginFailure } from '../../observability/metrics.js';

/** Sessions: signing in, rotating refresh tokens, signing out. A session is a refresh-token family. */

/**
 * Starts a session (or continues a family on refresh) in the scope's unit of
 * work: stores the hashed refresh token, signs an access token bound to the
 * family, and hands the refresh token over by cookie or payload.
 */
export async function issueSession(
  scope: Scope,
  user: UserRow,
  delivery: RefreshTokenDelivery,
  family?: { id: string; signedInAt: Date },
): Promise<{ session: SessionRow; result: AuthResult }> {
  const { auth } = scope.deps;
  const refreshToken = newRefreshToken();
  const expiresAt = new Date(Date.now() + auth.refreshTokenTtlDays * 86_400_000);
  const session = await insertSession(scope.db, {
    user_id: user.id,
    family_id: family?.id ?? randomUUID(),
    token_hash: sha256(refreshToken),
    ...(family ? { signed_in_at: family.signedInAt } : {}),
    expires_at: expiresAt,
    user_agent: scope.request.userAgent?.slice(0, 512) ?? null,
    ip: scope.request.ip.slice(0, 64),
  });
  const access = await auth.tokens.sign({ sub: user.id, ver: user.token_version, sid: session.family_id });
  const effects: Effect[] = [
    // The rest of the request (the payload's `user { email }`) is answered for the newly signed-in user.
    actAs({ userId: user.id, role: user.role, via: 'session', sessionId: session.family_id, apiKeyId: null, scopes: null }),
  ];
  if (delivery === 'COOKIE') effects.push(setCookie(REFRESH_COOKIE, refreshToken, auth.refreshTokenTtlDays * 86_400));
  return {
    session,
    result: {
      user,
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: delivery === 'PAYLOAD' ? refreshToken : null,
      refreshTokenExpiresAt: expiresAt,
      userErrors: [],
      effects,
    },
  };
}

export interface LogInInput {
  email: string;
  password: string;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

export async function logIn(scope: Scope, input: LogInInput): Promise<AuthResult> {
  const email = input.email.trim();
  const errors = new UserErrorList();
  if (email.length === 0) errors.add(['input', 'email'], 'REQUIRED', 'Enter your email address.');
  if (input.password.length === 0) errors.add(['input', 'password'], 'REQUIRED', 'Enter your password.');
  if (errors.any) return authFailure(errors.list);

  const { limiter } = scope.deps.auth;
  await enforceBruteForceLimit(scope, email);
  const attempt = { ip: scope.request.ip, email };
  // Long inputs are rejected by verifyPassword's cost anyway; cap them so argon2 never hashes megabytes.
  const user = email.length <= 254 ? await findUserByEmail(scope, email) : null;
  const passwordOk = await verifyPassword(user?.password_hash ?? undefined, input.password.slice(0, PASSWORD_MAX_LENGTH + 1));
  if (!user || !passwordOk || user.deleted_at !== null || input.password.length > PASSWORD_MAX_LENGTH) {
    await limiter.recordFailure(attempt);
    // Deliberately its own transaction: a failed login is evidence of an attack and
    // must be kept even when the caller's unit of work (if any) rolls back.
    await unitOfWork(
      scope,
      (own) =>
        recordAudit(own, {
          action: 'LOGIN_FAILED',
          actorId: null,
          targetType: user ? 'User' : undefined,
          targetId: user?.id,
          metadata: { email: email.toLowerCase().slice(0, 254) },
        }),
      { detached: true, rerunnable: true },
    );
    // One answer for unknown email, wrong password and deactivated account.
    countLoginFailure('invalid_credentials');
    return invalidCredentials(null, 'The email address or password is not correct.');
  }
  await limiter.recordSuccess(attempt);
  return unitOfWork(
    scope,
    async (unit) => {
      const issued = await issueSession(unit, user, input.refreshTokenDelivery ?? defaultDelivery(unit));
      await recordAudit(unit, { action: 'LOGIN_SUCCEEDED', actorId: user.id, targetType: 'Session', targetId: issued.session.family_id });
      return issued.result;
    },
    { rerunnable: true },
  );
}

export interface RefreshInput {
  refreshToken?: string | null;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

/**
 * Rotates a refresh token. Presenting a token that was already rotated is
 * what a stolen copy looks like: the whole family is revoked. The row is
 * locked, so of two refreshes with one token only one rotates it; the other
 * sees a rotated token and ends the family (safe, if strict).
 */
export async function refreshSession(scope: Scope, input: RefreshInput): Promise<AuthResult> {
  const fromCookie = input.refreshToken == null;
  const token = input.refreshToken ?? scope.request.cookies[REFRESH_COOKIE];
  const field = fromCookie ? null : ['input', 'refreshToken'];
  if (!token) return authFailure([{ field: ['input', 'refreshToken'], code: 'REQUIRED', message: 'Send the refresh token, or the refresh cookie.' }]);
  if (!REFRESH_TOKEN_SHAPE.test(token)) return rejectRefresh(fromCookie, field);
  const tokenHash = sha256(token);

  // Deliberately its own transaction: the revocation (and its audit event) must
  // commit although the request fails, whatever the caller's unit of work does.
  const reusedAtOnce = await unitOfWork(scope, (own) => revokeFamilyIfReused(own, tokenHash), { detached: true, rerunnable: true });

  const result = reusedAtOnce
    ? 'reused'
    : await unitOfWork(
    scope,
    async (unit): Promise<AuthResult | 'reused' | null> => {
      const current = await lockSessionByTokenHash(unit.db, tokenHash);
      if (!current) return null;
      // Rotated by a concurrent refresh since the check above: the same reuse, revoked with this unit.
      if (await revokeFamilyIfReused(unit, tokenHash, current)) return 'reused';
      if (current.revoked_at !== null || current.expires_at <= new Date()) return null;
      const user = await lockUser(unit, current.user_id);
      if (!user || user.deleted_at !== null) return null;
      const delivery = input.refreshTokenDelivery ?? (fromCookie ? 'COOKIE' : 'PAYLOAD');
      const issued = await issueSession(unit, user, delivery, { id: current.family_id, signedInAt: current.signed_in_at });
      await markSessionReplaced(unit.db, current.id, issued.session.id);
      return issued.result;
    },
    { rerunnable: true },
  );
  if (result === 'reused') scope.log.warn('refresh token reuse detected; session family revoked');
  return result === 'reused' || result === null ? rejectRefresh(fromCookie, field) : result;
}

/** Revokes the token's family when the token was already rotated; true when it did. */
async function revokeFamilyIfReused(scope: Scope, tokenHash: Buffer, locked?: SessionRow): Promise<boolean> {
  const current = locked ?? (await lockSessionByTokenHash(scope.db, tokenHash));
  if (!current || current.replaced_by === null) return false;
  const revoked = await revokeSessionFamily(scope.db, current.family_id, 'REUSE_DETECTED');
  await recordAudit(scope, {
    action: 'REFRESH_TOKEN_REUSED',
    actorId: current.user_id,
    targetType: 'Session',
    targetId: current.family_id,
    metadata: { revokedRows: revoked },
  });
  return true;
}

function rejectRefresh(fromCookie: boolean, field: string[] | null): AuthResult {
  countLoginFailure('invalid_refresh_token');
  return invalidCredentials(field, 'The refresh token is invalid, expired or revoked. Log in again.', fromCookie ? [clearCookie(REFRESH_COOKIE)] : []);
}

export interface LogOutResult {
  endedSessions: number;
  userErrors: UserErrorData[];
  effects: Effect[];
}

/** Ends one session: the one of the given refresh token or cookie, else the one of the access token in use. */
export async function logOut(scope: Scope, input: { refreshToken?: string | null }): Promise<LogOutResult> {
  const token = input.refreshToken ?? scope.request.cookies[REFRESH_COOKIE];
  const effects = [clearCookie(REFRESH_COOKIE)];
  const ended = await unitOfWork(
    scope,
    async (unit) => {
      let familyId: string | null = null;
      let userId: string | null = null;
      if (token && REFRESH_TOKEN_SHAPE.test(token)) {
        const session = await lockSessionByTokenHash(unit.db, sha256(token));
        if (session) ({ family_id: familyId, user_id: userId } = session);
      } else if (unit.viewer?.sessionId) {
        familyId = unit.viewer.sessionId;
        userId = unit.viewer.userId;
      }
      if (!familyId || !userId) return null;
      const count = await revokeSessionFamily(unit.db, familyId, 'LOGOUT', userId);
      await recordAudit(unit, { action: 'LOGGED_OUT', actorId: userId, targetType: 'Session', targetId: familyId });
      return count > 0 ? 1 : 0;
    },
    { rerunnable: true },
  );
  if (ended === null) {
    return {
      endedSessions: 0,
      userErrors: [{ field: ['input', 'refreshToken'], code: 'REQUIRED', message: 'Send the refresh token of the session to end, or use a session access token.' }],
      effects,
    };
  }
  return { endedSessions: ended, userErrors: [], effects };
}

export function requireViewer(scope: Scope) {
  // The permission layer already refused anonymous callers; this guards misuse of the service.
  if (!scope.viewer) throw appError('UNAUTHENTICATED');
  return scope.viewer;
}

/** Ends every session of a user (in the caller's unit of work); returns how many rows were revoked. */
export async function endAllSessionsOfUser(scope: Scope, userId: string, reason: SessionRevokedReason): Promise<number> {
  return revokeUserSessions(scope.db, userId, reason);
}

/** Ends every session and invalidates every access token of the signed-in user. */
export async function logOutEverywhere(scope: Scope): Promise<LogOutResult> {
  const viewer = requireViewer(scope);
  const ended = await unitOfWork(
    scope,
    async (unit) => {
      await updateUserEndingTokens(unit, viewer.userId, {});
      const count = await endAllSessionsOfUser(unit, viewer.userId, 'LOGOUT_EVERYWHERE');
      await recordAudit(unit, {
        action: 'LOGGED_OUT_EVERYWHERE',
        actorId: viewer.userId,
        targetType: 'User',
        targetId: viewer.userId,
        metadata: { endedSessions: count },
      });
      return count;
    },
    { rerunnable: true },
  );
  return { endedSessions: ended, userErrors: [], effects: [clearCookie(REFRESH_COOKIE)] };
}

/** A live session of the viewer's, by family id; anyone else's is `null`, like a missing one. */
export async function getOwnSession(scope: Scope<AccountLoaders>, familyId: string): Promise<SessionRow | null> {
  // Sessions and keys are account data: never shown to an API key, even its owner's.
  if (!scope.viewer || scope.viewer.via === 'api_key') return null;
  const session = await scope.loaders.liveSessionByFamily.load(familyId);
  return session && session.user_id === scope.viewer.userId ? session : null;
}

/** The live sessions of a user (the permission layer lets only the user ask). */
export async function listLiveSessions(scope: Scope<AccountLoaders>, userId: string): Promise<SessionRow[]> {
  return scope.loaders.liveSessionsByUser.load(userId);
}

/**
 * Ends one of the viewer's sessions. `sessionId` is the family id, or `null`
 * for an id of another type; someone else's session answers exactly like a missing one.
 */
export async function revokeSession(
  scope: Scope<AccountLoaders>,
  input: { sessionId: string | null },
): Promise<{ session: SessionRow | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(scope);
  const notFound = { session: null, userErrors: [{ field: ['input', 'sessionId'], code: 'NOT_FOUND' as const, message: 'No such session.' }] };
  const familyId = input.sessionId;
  if (!familyId) return notFound;
  return unitOfWork(
    scope,
    async (unit) => {
      // Read in the unit, through its loaders: what is revoked is what was read.
      const session = await unit.loaders.liveSessionByFamily.load(familyId);
      if (!session || session.user_id !== viewer.userId) return notFound;
      await revokeSessionFamily(unit.db, session.family_id, 'REVOKED_BY_USER', viewer.userId);
      await recordAudit(unit, { action: 'SESSION_REVOKED', actorId: viewer.userId, targetType: 'Session', targetId: session.family_id });
      return { session: { ...session, revoked_at: new Date(), revoked_reason: 'REVOKED_BY_USER' as const }, userErrors: [] };
    },
    { rerunnable: true },
  );
}
