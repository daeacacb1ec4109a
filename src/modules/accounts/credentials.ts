import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../auth/passwords.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData, UserErrorList } from '../../errors/user-errors.js';
import type { Effect } from '../../scope/effects.js';
import type { Scope } from '../../scope/scope.js';
import type { UserRow } from '../users/user.table.js';
import { countRateLimitRefusal } from '../../observability/metrics.js';

/** What the account services share: the result of signing in, input checks and the brute-force gate. */

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
  effects: Effect[];
}

export function authFailure(errors: UserErrorData[], effects: Effect[] = []): AuthResult {
  return { user: null, accessToken: null, accessTokenExpiresAt: null, refreshToken: null, refreshTokenExpiresAt: null, userErrors: errors, effects };
}

export function invalidCredentials(field: string[] | null, message: string, effects: Effect[] = []): AuthResult {
  return authFailure([{ field, code: 'INVALID_CREDENTIALS', message }], effects);
}

/** Browsers send Origin on POST; they get the refresh token as a cookie, other clients in the payload. */
export function defaultDelivery(scope: Scope): RefreshTokenDelivery {
  return scope.request.origin ? 'COOKIE' : 'PAYLOAD';
}

/**
 * Stops the work with RATE_LIMITED when the brute-force budget is spent; the
 * error carries `retryAfterSeconds`, which the HTTP edge turns into Retry-After.
 */
export async function enforceBruteForceLimit(scope: Scope, email: string): Promise<void> {
  const decision = await scope.deps.auth.limiter.check({ ip: scope.request.ip, email });
  if (!decision.allowed) {
    scope.log.warn({ limitedBy: decision.limitedBy }, 'sign-in attempts rate limited');
    countRateLimitRefusal('login');
    throw appError('RATE_LIMITED', `Too many attempts. Retry in ${decision.retryAfterSeconds} seconds.`, {
      retryAfterSeconds: decision.retryAfterSeconds,
    });
  }
}

export function checkPassword(errors: UserErrorList, field: string[], password: string): void {
  if (password.length === 0) errors.add(field, 'REQUIRED', 'Enter a password.');
  else if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    errors.add(field, 'INVALID', `Passwords are ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long.`);
  }
}
