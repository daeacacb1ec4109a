import { hashPassword, PASSWORD_MAX_LENGTH, verifyPassword } from '../../auth/passwords.js';
import { isUniqueViolation } from '../../db/faults.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import { UserErrorList, type UserErrorData } from '../../errors/user-errors.js';
import { clearCookie, type Effect } from '../../scope/effects.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit } from '../audit/audit.service.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { checkDisplayName, createUser, findUserByEmail, loadPasswordHash, loadUserRow, updateUserEndingTokens } from '../users/user.service.js';
import type { UserRow } from '../users/user.table.js';
import {
  authFailure,
  checkPassword,
  defaultDelivery,
  enforceBruteForceLimit,
  REFRESH_COOKIE,
  type AuthResult,
  type RefreshTokenDelivery,
} from './credentials.js';
import { endAllSessionsOfUser, issueSession, requireViewer } from './session.service.js';

/** Accounts: signing up and changing the password. */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface SignUpInput {
  email: string;
  password: string;
  displayName: string;
  refreshTokenDelivery?: RefreshTokenDelivery | null;
}

export async function signUp(scope: Scope, input: SignUpInput): Promise<AuthResult> {
  const email = input.email.trim();
  const check = new InputCheck();
  const { errors } = check;
  if (email.length === 0) errors.add(['input', 'email'], 'REQUIRED', 'Enter an email address.');
  else if (email.length > 254 || !EMAIL.test(email)) errors.add(['input', 'email'], 'INVALID', 'Enter a valid email address.');
  checkPassword(errors, ['input', 'password'], input.password);
  const displayName = checkDisplayName(check, ['input', 'displayName'], input.displayName);
  if (errors.any || displayName === undefined) return authFailure(errors.list);

  const { limiter } = scope.deps.auth;
  await enforceBruteForceLimit(scope, email);
  const passwordHash = await hashPassword(input.password);
  const attempt = { ip: scope.request.ip, email };
  const outcome = await unitOfWork(
    scope,
    async (unit) => {
      if (await findUserByEmail(unit, email)) return null;
      const user = await createUser(unit, { email, display_name: displayName, role: 'CUSTOMER', password_hash: passwordHash });
      const issued = await issueSession(unit, user, input.refreshTokenDelivery ?? defaultDelivery(unit));
      await recordAudit(unit, { action: 'SIGNED_UP', actorId: user.id, targetType: 'User', targetId: user.id });
      return issued.result;
    },
    // A savepoint: a lost race on the unique email rolls back only this part.
    { savepoint: true, rerunnable: true },
  ).catch((error: unknown) => {
    // Two sign-ups for one email at once: the unique index decides.
    if (isUniqueViolation(error)) return null;
    throw error;
  });
  if (!outcome) {
    await limiter.recordFailure(attempt);
    return authFailure([{ field: ['input', 'email'], code: 'TAKEN', message: 'An account with this email address already exists.' }]);
  }
  await limiter.recordSuccess(attempt);
  return outcome;
}

/** Changes the signed-in user's password: every session ends and every access token stops working. */
export async function changePassword(
  scope: Scope<UserLoaders>,
  input: { currentPassword: string; newPassword: string },
): Promise<{ user: UserRow | null; userErrors: UserErrorData[]; effects: Effect[] }> {
  const viewer = requireViewer(scope);
  const errors = new UserErrorList();
  if (input.currentPassword.length === 0) errors.add(['input', 'currentPassword'], 'REQUIRED', 'Enter your current password.');
  checkPassword(errors, ['input', 'newPassword'], input.newPassword);
  if (errors.any) return { user: null, userErrors: errors.list, effects: [] };

  const user = await loadUserRow(scope, viewer.userId);
  if (!user) throw appError('UNAUTHENTICATED');
  const { limiter } = scope.deps.auth;
  await enforceBruteForceLimit(scope, user.email);
  const attempt = { ip: scope.request.ip, email: user.email };
  if (!(await verifyPassword(await loadPasswordHash(scope, user.id), input.currentPassword.slice(0, PASSWORD_MAX_LENGTH + 1)))) {
    await limiter.recordFailure(attempt);
    return { user: null, userErrors: [{ field: ['input', 'currentPassword'], code: 'INVALID_CREDENTIALS', message: 'The current password is not correct.' }], effects: [] };
  }
  await limiter.recordSuccess(attempt);
  const passwordHash = await hashPassword(input.newPassword);
  const updated = await unitOfWork(
    scope,
    async (unit) => {
      const row = await updateUserEndingTokens(unit, viewer.userId, { password_hash: passwordHash });
      await endAllSessionsOfUser(unit, viewer.userId, 'PASSWORD_CHANGED');
      await recordAudit(unit, { action: 'PASSWORD_CHANGED', actorId: viewer.userId, targetType: 'User', targetId: viewer.userId });
      return row;
    },
    { rerunnable: true },
  );
  return { user: updated, userErrors: [], effects: [clearCookie(REFRESH_COOKIE)] };
}
