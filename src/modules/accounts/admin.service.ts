import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { recordChanges } from '../../scope/changes.js';
import type { Scope } from '../../scope/scope.js';
import { recordAudit } from '../audit/audit.service.js';
import { lockUser, updateUserEndingTokens } from '../users/user.service.js';
import type { UserRow } from '../users/user.table.js';
import { revokeAllApiKeysOfUser } from './api-key.service.js';
import { endAllSessionsOfUser } from './session.service.js';

type UserPayload = { user: UserRow | null; userErrors: UserErrorData[] };

function notFound(): UserPayload {
  return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'NOT_FOUND', message: 'No such user.' }] };
}

/**
 * The admin mutation that belongs to the accounts module: deactivating a user
 * ends their sessions and API keys, which only this module knows (the users
 * module owns `setUserRole`, src/modules/users/admin.service.ts).
 */
/** Deactivates a user: soft delete, every session and API key revoked, access tokens invalidated. */
export async function deactivateUser(scope: Scope, input: { userId: string | null }): Promise<UserPayload> {
  const viewer = scope.viewer;
  if (!viewer) throw appError('UNAUTHENTICATED');
  const id = input.userId;
  if (!id) return notFound();
  if (id === viewer.userId) {
    return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'INVALID', message: 'Admins cannot deactivate themselves.' }] };
  }
  return unitOfWork(
    scope,
    async (unit) => {
      const user = await lockUser(unit, id);
      if (!user) return notFound();
      if (user.deleted_at !== null) return { user, userErrors: [] };
      const updated = await updateUserEndingTokens(unit, id, { deleted_at: new Date() });
      // The public profile disappears: sellers and review authors show as null.
      await recordChanges(unit, { entity: 'user', id });
      const sessions = await endAllSessionsOfUser(unit, id, 'DEACTIVATED');
      const apiKeys = await revokeAllApiKeysOfUser(unit, id);
      await recordAudit(unit, { action: 'USER_DEACTIVATED', actorId: viewer.userId, targetType: 'User', targetId: id, metadata: { sessions, apiKeys } });
      return { user: updated, userErrors: [] };
    },
    { rerunnable: true },
  );
}
