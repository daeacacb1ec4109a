import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys } from '../../loaders/batch.js';
import { findCategoriesByIds } from './category.repository.js';
import type { CategoryRow } from './category.table.js';

export type CategoryLoaders = ReturnType<typeof createCategoryLoaders>;

export function createCategoryLoaders(db: Kysely<Database>) {
  return {
    categoryById: new RecordLoader<string, CategoryRow | null>(async (ids) =>
      byKeys(ids, await findCategoriesByIds(db, ids), (row) => row.id),
    ),
  };
}
