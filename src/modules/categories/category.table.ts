import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { JoinTarget } from '../../db/joined.js';

export interface CategoryTable {
  id: Generated<string>;
  name: string;
  slug: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/**
 * A category as the API reads it: its timestamps are kept by the database
 * but are not in the schema, so no statement reads them (a catalogue page
 * joins 50 categories).
 */
export type CategoryRow = Omit<Selectable<CategoryTable>, 'created_at' | 'updated_at'>;
/** The columns of a CategoryRow: what every statement of this module reads, and what a statement of another module that joins categories (the catalogue page) selects to prime the `categoryById` loader. */
export const CATEGORY_COLUMNS = ['id', 'name', 'slug'] as const satisfies readonly (keyof CategoryRow)[];
/** Categories as another module's statement joins them (a product's category): whole rows, for `categoryById`. */
export const CATEGORY_TARGET: JoinTarget<CategoryRow, 'categoryById'> = { table: 'categories', columns: CATEGORY_COLUMNS, loader: 'categoryById' };
export type NewCategoryRow = Insertable<CategoryTable>;
export type CategoryUpdate = Updateable<CategoryTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    categories: CategoryTable;
  }
}
