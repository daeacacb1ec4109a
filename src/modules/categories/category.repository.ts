import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { CATEGORY_COLUMNS, type CategoryRow } from './category.table.js';

export async function findAllCategories(db: Kysely<Database>): Promise<CategoryRow[]> {
  return db.selectFrom('categories').select(CATEGORY_COLUMNS).orderBy('name').orderBy('id').execute();
}

export async function findCategoriesByIds(db: Kysely<Database>, ids: readonly string[]): Promise<CategoryRow[]> {
  if (ids.length === 0) return [];
  // One array parameter: the same statement text for any number of ids (a reusable prepared statement).
  return db
    .selectFrom('categories')
    .select(CATEGORY_COLUMNS)
    .where('id', '=', (eb) => eb.fn.any(eb.val([...ids])))
    .execute();
}

export async function findCategoryBySlug(db: Kysely<Database>, slug: string): Promise<CategoryRow | undefined> {
  return db.selectFrom('categories').select(CATEGORY_COLUMNS).where('slug', '=', slug).executeTakeFirst();
}

export async function insertCategory(db: Kysely<Database>, values: { name: string; slug: string }): Promise<CategoryRow> {
  return db.insertInto('categories').values(values).returning(CATEGORY_COLUMNS).executeTakeFirstOrThrow();
}

export async function updateCategoryById(db: Kysely<Database>, id: string, changes: { name?: string; slug?: string }): Promise<CategoryRow | undefined> {
  return db
    .updateTable('categories')
    .set({ ...changes, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returning(CATEGORY_COLUMNS)
    .executeTakeFirst();
}

export async function deleteCategoryById(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('categories').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
