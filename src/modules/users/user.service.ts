import type { ServiceContext } from '../../graphql/context.js';
import type { UserRow } from './user.table.js';

/** Deactivated (soft-deleted) accounts are not visible through the public API. */
export function isUserVisible(user: UserRow): boolean {
  return user.deleted_at === null;
}

export async function getUser(ctx: ServiceContext, id: string): Promise<UserRow | null> {
  const user = await ctx.loaders.userById.load(id);
  return user && isUserVisible(user) ? user : null;
}
