import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface ReviewTable {
  id: Generated<string>;
  product_id: string;
  author_id: string;
  rating: number;
  /** Plain text, empty when the author gave none. */
  title: Generated<string>;
  body: Generated<string>;
  /** Bumped by every change (optimistic locking). */
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export type ReviewRow = Selectable<ReviewTable>;
export type NewReviewRow = Insertable<ReviewTable>;
export type ReviewUpdate = Updateable<ReviewTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    reviews: ReviewTable;
  }
}
