import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('reviews')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('product_id', 'uuid', (col) => col.notNull().references('products.id').onDelete('restrict'))
    .addColumn('author_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('restrict'))
    .addColumn('rating', 'smallint', (col) => col.notNull().check(sql`rating BETWEEN 1 AND 5`))
    .addColumn('body', 'text', (col) => col.notNull().defaultTo('').check(sql`char_length(body) <= 5000`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();

  // One live review per (product, author); a deleted one may be written again.
  await sql`CREATE UNIQUE INDEX reviews_product_author_live_key ON reviews (product_id, author_id) WHERE deleted_at IS NULL`.execute(
    db,
  );
  // Per-product newest-first pages of live reviews.
  await sql`CREATE INDEX reviews_product_created_idx ON reviews (product_id, created_at, id) WHERE deleted_at IS NULL`.execute(
    db,
  );
  await db.schema.createIndex('reviews_author_idx').on('reviews').column('author_id').execute();

  // Keep products.rating_avg / review_count exact. Recomputing from the live
  // rows (rather than incrementing) stays correct whatever the mix of inserts,
  // edits, soft deletes and restores; locking the product row first
  // serialises concurrent writers (a test proves no update is lost).
  await sql`
    CREATE FUNCTION reviews_refresh_product_rating() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      pid uuid;
    BEGIN
      FOR pid IN
        SELECT DISTINCT x FROM unnest(ARRAY[
          CASE WHEN TG_OP <> 'INSERT' THEN OLD.product_id END,
          CASE WHEN TG_OP <> 'DELETE' THEN NEW.product_id END
        ]) AS x WHERE x IS NOT NULL ORDER BY x
      LOOP
        -- Lock the product before counting: a concurrent writer waits here and
        -- then counts with a fresh snapshot that includes this one's review.
        -- NO KEY UPDATE, not UPDATE: the review's foreign-key check already
        -- holds KEY SHARE on the product, and UPDATE would deadlock with a
        -- second writer holding it too. Ids are visited in order so two
        -- writers never lock in opposite order.
        PERFORM 1 FROM products WHERE id = pid FOR NO KEY UPDATE;
        UPDATE products p
           SET review_count = s.n,
               rating_avg = s.avg
          FROM (
            SELECT count(*)::int AS n, coalesce(round(avg(rating), 2), 0) AS avg
              FROM reviews
             WHERE product_id = pid AND deleted_at IS NULL
          ) s
         WHERE p.id = pid;
      END LOOP;
      RETURN NULL;
    END
    $$`.execute(db);
  await sql`
    CREATE TRIGGER reviews_refresh_product_rating
    AFTER INSERT OR DELETE OR UPDATE OF rating, deleted_at, product_id ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_refresh_product_rating()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('reviews').execute();
  await sql`DROP FUNCTION reviews_refresh_product_rating()`.execute(db);
  await db.updateTable('products').set({ rating_avg: 0, review_count: 0 }).execute();
}
