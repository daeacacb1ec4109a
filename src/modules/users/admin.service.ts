import type { ServiceContext } from '../../graphql/context.js';
import { fromGlobalId } from '../../graphql/global-id.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { revokeUserApiKeys } from '../accounts/api-key.repository.js';
import { revokeUserSessions } from '../accounts/session.repository.js';
import { recordAudit } from '../audit/audit.service.js';
import { lockUserById, updateUserAndBumpTokenVersion, updateUserRole } from './user.repository.js';
import type { UserRole, UserRow } from './user.table.js';

type UserPayload = { user: UserRow | null; userErrors: UserErrorData[] };

function notFound(): UserPayload {
  return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'NOT_FOUND', message: 'No such user.' }] };
}

function targetId(ctx: ServiceContext, globalId: string): string | null {
  if (!ctx.viewer) throw appError('UNAUTHENTICATED');
  const decoded = fromGlobalId(globalId, 'input.userId');
  return decoded.type === 'User' ? decoded.id : null;
}

/**
 * Changes a user's role. Authentication reads the role from the database on
 * every request, so the user's next request (with a still-valid token) has it.
 */
export async function setUserRole(ctx: ServiceContext, input: { userId: string; role: UserRole }): Promise<UserPayload> {
  const id = targetId(ctx, input.userId);
  if (!id) return notFound();
  if (id === ctx.viewer?.userId) {
    return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'INVALID', message: 'Admins cannot change their own role.' }] };
  }
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUserById(trx, id);
    if (!user) return notFound();
    if (user.role === input.role) return { user, userErrors: [] };
    const updated = await updateUserRole(trx, id, input.role);
    await recordAudit(
      ctx,
      { action: 'ROLE_CHANGED', actorId: ctx.viewer?.userId ?? null, targetType: 'User', targetId: id, metadata: { from: user.role, to: input.role } },
      trx,
    );
    return { user: updated ?? null, userErrors: [] };
  });
}

/** Deactivates a user: soft delete, every session and API key revoked, access tokens invalidated. */
export async function deactivateUser(ctx: ServiceContext, input: { userId: string }): Promise<UserPayload> {
  const id = targetId(ctx, input.userId);
  if (!id) return notFound();
  if (id === ctx.viewer?.userId) {
    return { user: null, userErrors: [{ field: ['input', 'userId'], code: 'INVALID', message: 'Admins cannot deactivate themselves.' }] };
  }
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUserById(trx, id);
    if (!user) return notFound();
    if (user.deleted_at !== null) return { user, userErrors: [] };
    const updated = await updateUserAndBumpTokenVersion(trx, id, { deleted_at: new Date() });
    const sessions = await revokeUserSessions(trx, id, 'DEACTIVATED');
    const apiKeys = await revokeUserApiKeys(trx, id);
    await recordAudit(
      ctx,
      { action: 'USER_DEACTIVATED', actorId: ctx.viewer?.userId ?? null, targetType: 'User', targetId: id, metadata: { sessions, apiKeys } },
      trx,
    );
    return { user: updated ?? null, userErrors: [] };
  });
}
