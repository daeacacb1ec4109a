import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Refresh-token sessions. Each login starts a family; every refresh rotates
  // the token inside the family. Presenting a token that was already rotated
  // (replaced_by set) or revoked revokes the whole family.
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('family_id', 'uuid', (col) => col.notNull())
    // SHA-256 of the 256-bit random token; the token itself is never stored.
    .addColumn('token_hash', 'bytea', (col) => col.notNull().unique())
    .addColumn('replaced_by', 'uuid', (col) => col.references('sessions.id').onDelete('set null'))
    // When the family began (the login), carried over on every rotation.
    .addColumn('signed_in_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text', (col) =>
      col.check(sql`revoked_reason IN ('LOGOUT', 'LOGOUT_EVERYWHERE', 'REUSE_DETECTED', 'PASSWORD_CHANGED', 'DEACTIVATED', 'REVOKED_BY_USER')`),
    )
    .addColumn('user_agent', 'text', (col) => col.check(sql`char_length(user_agent) <= 512`))
    .addColumn('ip', 'text', (col) => col.check(sql`char_length(ip) <= 64`))
    .addCheckConstraint('sessions_expiry_after_creation', sql`expires_at > created_at`)
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').columns(['user_id', 'created_at']).execute();
  await db.schema.createIndex('sessions_family_idx').on('sessions').column('family_id').execute();
  // The live head of each family: what `viewer.sessions` lists and what an access token's `sid` must match.
  await sql`CREATE INDEX sessions_live_idx ON sessions (user_id, family_id) WHERE revoked_at IS NULL AND replaced_by IS NULL`.execute(db);

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull().check(sql`char_length(name) BETWEEN 1 AND 100`))
    // Public lookup part of the key (`mk_<prefix>_<secret>`); the secret is only stored hashed.
    .addColumn('prefix', 'text', (col) => col.notNull().unique())
    .addColumn('key_hash', 'bytea', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) => col.notNull().check(sql`cardinality(scopes) >= 1`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('api_keys_user_idx').on('api_keys').columns(['user_id', 'created_at']).execute();

  // Accounts at an external OpenID Connect provider, linked on first use.
  await db.schema
    .createTable('user_identities')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('user_identities_issuer_subject_key', ['issuer', 'subject'])
    .execute();
  await db.schema.createIndex('user_identities_user_idx').on('user_identities').column('user_id').execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('occurred_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // Null for anonymous actors (failed logins, sign-ups).
    .addColumn('actor_id', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('action', 'text', (col) => col.notNull().check(sql`action ~ '^[A-Z][A-Z_]*$'`))
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('metadata', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await sql`CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at, id)`.execute(db);
  await sql`CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, occurred_at, id)`.execute(db);
  await sql`CREATE INDEX audit_events_action_idx ON audit_events (action, occurred_at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
  await db.schema.dropTable('user_identities').execute();
  await db.schema.dropTable('api_keys').execute();
  await db.schema.dropTable('sessions').execute();
}
