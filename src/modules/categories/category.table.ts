import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface CategoryTable {
  id: Generated<string>;
  name: string;
  slug: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type CategoryRow = Selectable<CategoryTable>;
export type NewCategoryRow = Insertable<CategoryTable>;
export type CategoryUpdate = Updateable<CategoryTable>;
