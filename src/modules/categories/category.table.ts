import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface CategoryTable {
  id: Generated<string>;
  name: string;
  slug: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type CategoryRow = Selectable<CategoryTable>;
/** The columns of a CategoryRow: what a statement of another module that joins categories (the catalogue page) selects to prime the `categoryById` loader. */
export const CATEGORY_COLUMNS = ['id', 'name', 'slug', 'created_at', 'updated_at'] as const satisfies readonly (keyof CategoryRow)[];
export type NewCategoryRow = Insertable<CategoryTable>;
export type CategoryUpdate = Updateable<CategoryTable>;
