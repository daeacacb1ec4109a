import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { byKeys, groupedByKeys } from '../../loaders/batch.js';
import { findApiKeysByIds, findApiKeysByUserIds } from './api-key.repository.js';
import type { ApiKeyRow } from './api-key.table.js';
import { findLiveSessionsByFamilyIds, findLiveSessionsByUserIds } from './session.repository.js';
import type { SessionRow } from './session.table.js';

export type AccountLoaders = ReturnType<typeof createAccountLoaders>;

export function createAccountLoaders(db: Kysely<Database>) {
  return {
    /** The live head row of a session family, or null once it ended. */
    liveSessionByFamily: new DataLoader<string, SessionRow | null>(async (familyIds) =>
      byKeys(familyIds, await findLiveSessionsByFamilyIds(db, familyIds), (row) => row.family_id),
    ),
    liveSessionsByUser: new DataLoader<string, SessionRow[]>(async (userIds) =>
      groupedByKeys(userIds, await findLiveSessionsByUserIds(db, userIds), (row) => row.user_id),
    ),
    apiKeyById: new DataLoader<string, ApiKeyRow | null>(async (ids) =>
      byKeys(ids, await findApiKeysByIds(db, ids), (row) => row.id),
    ),
    apiKeysByUser: new DataLoader<string, ApiKeyRow[]>(async (userIds) =>
      groupedByKeys(userIds, await findApiKeysByUserIds(db, userIds), (row) => row.user_id),
    ),
  };
}
