import { actsAsAdmin } from '../../auth/viewer.js';
import type { ServiceContext } from '../../graphql/context.js';
import type { UserRow } from './user.table.js';

/** Deactivated (soft-deleted) accounts are not visible through the public API. */
export function isUserVisible(user: UserRow): boolean {
  return user.deleted_at === null;
}

/**
 * A user by id, or null when missing or deactivated. Deactivated users are
 * returned only where an admin explicitly reads history (the audit log).
 */
export async function getUser(ctx: ServiceContext, id: string, options: { includeDeactivated?: boolean } = {}): Promise<UserRow | null> {
  const user = await ctx.loaders.userById.load(id);
  if (!user) return null;
  if (isUserVisible(user)) return user;
  return options.includeDeactivated && actsAsAdmin(ctx.viewer) ? user : null;
}
