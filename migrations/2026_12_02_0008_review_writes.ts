import { sql, type Kysely } from 'kysely';

/**
 * Review writes: a short optional title, a version for optimistic locking
 * (`updateReview` takes `expectedVersion`), and an index for the admins'
 * list of a product's soft-deleted reviews (the live ones have theirs).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('reviews')
    .addColumn('title', 'text', (col) => col.notNull().defaultTo('').check(sql`char_length(title) <= 120`))
    .addColumn('version', 'integer', (col) => col.notNull().defaultTo(1).check(sql`version >= 1`))
    .execute();
  await sql`CREATE INDEX reviews_product_deleted_created_idx ON reviews (product_id, created_at, id) WHERE deleted_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX reviews_product_deleted_created_idx`.execute(db);
  await db.schema.alterTable('reviews').dropColumn('title').dropColumn('version').execute();
}
