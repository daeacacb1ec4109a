import type { Generated, Selectable } from 'kysely';

/** One saved product of one user (migrations/2026_12_07_0010_wishlists.ts). */
export interface WishlistItemTable {
  user_id: string;
  product_id: string;
  added_at: Generated<Date>;
}

export type WishlistItemRow = Selectable<WishlistItemTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    wishlist_items: WishlistItemTable;
  }
}
