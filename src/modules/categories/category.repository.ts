import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { CategoryRow } from './category.table.js';

export async function findAllCategories(db: Kysely<Database>): Promise<CategoryRow[]> {
  return db.selectFrom('categories').selectAll().orderBy('name').orderBy('id').execute();
}

export async function findCategoriesByIds(db: Kysely<Database>, ids: readonly string[]): Promise<CategoryRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('categories').selectAll().where('id', 'in', ids).execute();
}

export async function findCategoryBySlug(db: Kysely<Database>, slug: string): Promise<CategoryRow | undefined> {
  return db.selectFrom('categories').selectAll().where('slug', '=', slug).executeTakeFirst();
}
