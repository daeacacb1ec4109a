import { sql, type Kysely } from 'kysely';

/**
 * Idempotency keys are scoped to (user, credential, key): the credential is
 * the session family or API key that sent the first request, so one
 * credential's stored response is never replayed to another (see
 * docs/architecture/decisions/0045-idempotency-keys-src-idempotency.md). Stored responses are encrypted
 * from now on.
 *
 * Records written before this migration are deleted: they are scoped to the
 * user only, and their response bodies may hold API keys and tokens in
 * plaintext. A retry of such a request with its old key runs as a new
 * request (records live 24 hours; CHANGELOG says so).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('idempotency_keys').execute();
  await db.schema
    .alterTable('idempotency_keys')
    // `session:<family id>`, `api_key:<key id>` or `oidc`: what authenticated the first request.
    .addColumn('credential', 'text', (col) => col.notNull().check(sql`char_length(credential) BETWEEN 1 AND 200`))
    .execute();
  await db.schema.alterTable('idempotency_keys').dropConstraint('idempotency_keys_pkey').execute();
  await db.schema.alterTable('idempotency_keys').addPrimaryKeyConstraint('idempotency_keys_pkey', ['principal', 'credential', 'key']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // Bodies written since are encrypted and scoped per credential: neither survives going back.
  await db.deleteFrom('idempotency_keys').execute();
  await db.schema.alterTable('idempotency_keys').dropConstraint('idempotency_keys_pkey').execute();
  await db.schema.alterTable('idempotency_keys').dropColumn('credential').execute();
  await db.schema.alterTable('idempotency_keys').addPrimaryKeyConstraint('idempotency_keys_pkey', ['principal', 'key']).execute();
}
