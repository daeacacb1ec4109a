import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import type { Scope } from '../../scope/scope.js';
import { recordAudit } from '../audit/audit.service.js';
import { updateUserRole } from './user.repository.js';
import { lockUser } from './user.service.js';
import type { UserRole, UserRow } from './user.table.js';

type UserPayload = { user: UserRow | null; userErrors: UserErrorData[] };

function notFound(): UserPayload {
  return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'NOT_FOUND', message: 'No such user.' }] };
}

function requireViewer(scope: Scope) {
  if (!scope.viewer) throw appError('UNAUTHENTICATED');
  return scope.viewer;
}

/**
 * Changes a user's role. Authentication reads the role from the database on
 * every request, so the user's next request (with a still-valid token) has it.
 * `userId` is the raw id; `null` (a global id of another type) answers NOT_FOUND.
 */
export async function setUserRole(scope: Scope, input: { userId: string | null; role: UserRole }): Promise<UserPayload> {
  const viewer = requireViewer(scope);
  const id = input.userId;
  if (!id) return notFound();
  if (id === viewer.userId) {
    return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'INVALID', message: 'Admins cannot change their own role.' }] };
  }
  return unitOfWork(
    scope,
    async (unit) => {
      const user = await lockUser(unit, id);
      if (!user) return notFound();
      if (user.role === input.role) return { user, userErrors: [] };
      const updated = await updateUserRole(unit.db, id, input.role);
      await recordAudit(unit, { action: 'ROLE_CHANGED', actorId: viewer.userId, targetType: 'User', targetId: id, metadata: { from: user.role, to: input.role } });
      return { user: updated ?? null, userErrors: [] };
    },
    { rerunnable: true },
  );
}
