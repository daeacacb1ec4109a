import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys } from '../../loaders/batch.js';
import { findUsersByIds } from './user.repository.js';
import type { UserRecord } from './user.table.js';

export type UserLoaders = ReturnType<typeof createUserLoaders>;

export function createUserLoaders(db: Kysely<Database>) {
  return {
    userById: new RecordLoader<string, UserRecord | null>(async (ids) =>
      byKeys(ids, await findUsersByIds(db, ids), (row) => row.id),
    ),
  };
}
