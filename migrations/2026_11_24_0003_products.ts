import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('products')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('seller_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('restrict'))
    .addColumn('category_id', 'uuid', (col) => col.notNull().references('categories.id').onDelete('restrict'))
    .addColumn('title', 'text', (col) => col.notNull().check(sql`char_length(title) BETWEEN 1 AND 200`))
    .addColumn('description', 'text', (col) =>
      col.notNull().defaultTo('').check(sql`char_length(description) <= 10000`),
    )
    .addColumn('price_amount', 'integer', (col) => col.notNull().check(sql`price_amount >= 0`))
    .addColumn('currency', 'char(3)', (col) => col.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('stock', 'integer', (col) => col.notNull().defaultTo(0).check(sql`stock >= 0`))
    .addColumn('status', 'text', (col) =>
      col.notNull().defaultTo('DRAFT').check(sql`status IN ('DRAFT', 'ACTIVE', 'ARCHIVED')`),
    )
    .addColumn('version', 'integer', (col) => col.notNull().defaultTo(1).check(sql`version >= 1`))
    // Denormalised from reviews by a trigger (migration 0005) so that sorting
    // by rating is an index scan, not an aggregate over every review.
    .addColumn('rating_avg', 'numeric(3, 2)', (col) =>
      col.notNull().defaultTo(0).check(sql`rating_avg BETWEEN 0 AND 5`),
    )
    .addColumn('review_count', 'integer', (col) => col.notNull().defaultTo(0).check(sql`review_count >= 0`))
    .addColumn('search', sql`tsvector`, (col) =>
      col.generatedAlwaysAs(
        sql`setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B')`,
      ).stored(),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();

  // Keyset pagination of the public catalogue: one partial index per sort key,
  // each ending in id, covering only what anonymous readers can see.
  const visible = sql`status = 'ACTIVE' AND deleted_at IS NULL`;
  await sql`CREATE INDEX products_visible_created_idx ON products (created_at, id) WHERE ${visible}`.execute(db);
  await sql`CREATE INDEX products_visible_price_idx ON products (price_amount, id) WHERE ${visible}`.execute(db);
  await sql`CREATE INDEX products_visible_title_idx ON products (title, id) WHERE ${visible}`.execute(db);
  await sql`CREATE INDEX products_visible_rating_idx ON products (rating_avg, id) WHERE ${visible}`.execute(db);
  // Filters and foreign keys.
  await sql`CREATE INDEX products_category_created_idx ON products (category_id, created_at, id)`.execute(db);
  await sql`CREATE INDEX products_seller_created_idx ON products (seller_id, created_at, id)`.execute(db);
  await sql`CREATE INDEX products_search_idx ON products USING gin (search)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('products').execute();
}
