import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { UserRow } from './user.table.js';

/** Users by id, including deactivated ones (visibility is the service's call). */
export async function findUsersByIds(db: Kysely<Database>, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
}
