import { sql, type Kysely } from 'kysely';

/**
 * Idempotency keys (see docs/architecture/decisions/0045-idempotency-keys-src-idempotency.md). A row is
 * claimed IN_PROGRESS in its own short transaction before the mutation runs,
 * then completed with the stored response in the mutation's transaction.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    // The user the key belongs to; a key means nothing across principals.
    .addColumn('principal', 'text', (col) => col.notNull())
    .addColumn('key', 'text', (col) => col.notNull().check(sql`char_length(key) BETWEEN 1 AND 255`))
    // SHA-256 (hex) of the document, operation name and variables.
    .addColumn('fingerprint', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().check(sql`status IN ('IN_PROGRESS', 'COMPLETED')`))
    // Which attempt holds an IN_PROGRESS claim: only it may complete the row.
    .addColumn('claim_id', 'uuid', (col) => col.notNull())
    // An IN_PROGRESS claim older than this was abandoned (a crashed process) and may be taken over.
    .addColumn('locked_until', 'timestamptz', (col) => col.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_content_type', 'text')
    .addColumn('response_body', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['principal', 'key'])
    .addCheckConstraint(
      'idempotency_keys_completed_has_response',
      sql`status = 'IN_PROGRESS' OR (response_status IS NOT NULL AND response_body IS NOT NULL)`,
    )
    .execute();
  // The purge deletes by expiry.
  await db.schema.createIndex('idempotency_keys_expires_idx').on('idempotency_keys').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute();
}
