import { sql, type Kysely } from 'kysely';

// Migrations take Kysely<any> on purpose: each describes the schema as it was
// at that point in history, not as the current Database interface says.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('email', 'text', (col) => col.notNull().check(sql`char_length(email) BETWEEN 3 AND 254`))
    .addColumn('display_name', 'text', (col) =>
      col.notNull().check(sql`char_length(display_name) BETWEEN 1 AND 80`),
    )
    .addColumn('role', 'text', (col) =>
      col.notNull().defaultTo('CUSTOMER').check(sql`role IN ('CUSTOMER', 'SELLER', 'ADMIN')`),
    )
    // Null for accounts that only sign in through an external identity provider.
    .addColumn('password_hash', 'text')
    // Bumped on role change, deactivation and "log out everywhere" so that
    // still-valid access tokens stop working on the next request.
    .addColumn('token_version', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();

  // Case-insensitive uniqueness: Alice@x.com and alice@x.com are one account.
  await sql`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`.execute(db);
  await db.schema.createIndex('users_role_idx').on('users').column('role').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('users').execute();
}
