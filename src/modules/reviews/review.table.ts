import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface ReviewTable {
  id: Generated<string>;
  product_id: string;
  author_id: string;
  rating: number;
  body: Generated<string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export type ReviewRow = Selectable<ReviewTable>;
export type NewReviewRow = Insertable<ReviewTable>;
export type ReviewUpdate = Updateable<ReviewTable>;
