import { sql, type Kysely } from 'kysely';

/**
 * Wishlists (src/modules/wishlists): the products a user saved, one row per
 * (user, product), newest first. Both sides cascade: a deleted user or a
 * purged product takes its rows along; a soft-deleted or unpublished product
 * keeps its row and is only hidden from the list while it is not visible.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('wishlist_items')
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('product_id', 'uuid', (col) => col.notNull().references('products.id').onDelete('cascade'))
    .addColumn('added_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('wishlist_items_pkey', ['user_id', 'product_id'])
    .execute();
  // The list's keyset order (newest first, ties by product id) and the product side of the cascade.
  await sql`CREATE INDEX wishlist_items_user_added_idx ON wishlist_items (user_id, added_at, product_id)`.execute(db);
  await sql`CREATE INDEX wishlist_items_product_idx ON wishlist_items (product_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('wishlist_items').execute();
}
