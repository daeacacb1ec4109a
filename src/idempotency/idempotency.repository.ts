import { sql, type Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { shapedStatement } from '../db/shaped.js';
import type { IdempotencyKeyRow } from './idempotency.table.js';

/** Which record: the user, the credential that sent the first request, and the key. */
export interface KeyRef {
  principal: string;
  credential: string;
  key: string;
}

export interface ClaimValues extends KeyRef {
  fingerprint: string;
  claimId: string;
  lockMs: number;
  retentionMs: number;
}

const interval = (ms: number) => sql<Date>`now() + make_interval(secs => ${ms / 1000})`;
/** `now()` plus a number of seconds bound as a value (a shaped statement's placeholder stays a value). */
const secondsFromNow = (seconds: unknown) => sql<Date>`now() + make_interval(secs => ${seconds})`;

/** A record's reference and claim as statement values (a type, not an interface: values are a plain record). */
type ClaimRefValues = { principal: string; credential: string; key: string; claimId: string };
type ClaimStatementValues = ClaimRefValues & { fingerprint: string; lockSeconds: number; retentionSeconds: number };

/** The statements of every keyed request, compiled once (src/db/shaped.ts). */
const insertClaimStatement = shapedStatement('idempotency.claim', (db, _shape: null, v: ClaimStatementValues) =>
  db
    .insertInto('idempotency_keys')
    .values({
      principal: v.principal,
      credential: v.credential,
      key: v.key,
      fingerprint: v.fingerprint,
      status: 'IN_PROGRESS',
      claim_id: v.claimId,
      locked_until: secondsFromNow(v.lockSeconds),
      expires_at: secondsFromNow(v.retentionSeconds),
    })
    .onConflict((oc) => oc.columns(['principal', 'credential', 'key']).doNothing())
    .returning('claim_id'),
);

/** Inserts an IN_PROGRESS claim; `false` when the (principal, credential, key) row exists already. */
export async function insertClaim(db: Kysely<Database>, values: ClaimValues): Promise<boolean> {
  const rows = await insertClaimStatement(db, null, {
    principal: values.principal,
    credential: values.credential,
    key: values.key,
    fingerprint: values.fingerprint,
    claimId: values.claimId,
    lockSeconds: values.lockMs / 1000,
    retentionSeconds: values.retentionMs / 1000,
  });
  return rows.length > 0;
}

export async function findKey(db: Kysely<Database>, ref: KeyRef): Promise<IdempotencyKeyRow | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('principal', '=', ref.principal)
    .where('credential', '=', ref.credential)
    .where('key', '=', ref.key)
    .executeTakeFirst();
}

/**
 * Takes over a row that no longer binds: expired (past its retention), or an
 * IN_PROGRESS claim abandoned past its lock. Conditional, so of two
 * instances racing for it exactly one wins.
 */
export async function takeOverStaleKey(db: Kysely<Database>, values: ClaimValues): Promise<IdempotencyKeyRow | undefined> {
  return db
    .updateTable('idempotency_keys')
    .set({
      fingerprint: values.fingerprint,
      status: 'IN_PROGRESS',
      claim_id: values.claimId,
      locked_until: interval(values.lockMs),
      expires_at: interval(values.retentionMs),
      created_at: sql<Date>`now()`,
      response_status: null,
      response_content_type: null,
      response_body: null,
    })
    .where('principal', '=', values.principal)
    .where('credential', '=', values.credential)
    .where('key', '=', values.key)
    .where((eb) => eb.or([eb('expires_at', '<=', sql<Date>`now()`), eb.and([eb('status', '=', 'IN_PROGRESS'), eb('locked_until', '<=', sql<Date>`now()`)])]))
    .returningAll()
    .executeTakeFirst();
}

const completeClaimStatement = shapedStatement(
  'idempotency.complete',
  (db, _shape: null, v: ClaimRefValues & { status: number; contentType: string; body: string }) =>
    db
      .updateTable('idempotency_keys')
      .set({ status: 'COMPLETED', response_status: v.status, response_content_type: v.contentType, response_body: v.body })
      .where('principal', '=', v.principal)
      .where('credential', '=', v.credential)
      .where('key', '=', v.key)
      .where('claim_id', '=', v.claimId)
      .where('status', '=', 'IN_PROGRESS')
      .returning('claim_id'),
);

const releaseClaimStatement = shapedStatement('idempotency.release', (db, _shape: null, v: ClaimRefValues) =>
  db
    .deleteFrom('idempotency_keys')
    .where('principal', '=', v.principal)
    .where('credential', '=', v.credential)
    .where('key', '=', v.key)
    .where('claim_id', '=', v.claimId)
    .where('status', '=', 'IN_PROGRESS'),
);

/** Stores the final response on the claim, if this attempt still holds it; returns whether it did. */
export async function completeClaim(
  db: Kysely<Database>,
  claim: KeyRef & { claimId: string },
  response: { status: number; contentType: string; body: string },
): Promise<boolean> {
  const rows = await completeClaimStatement(db, null, {
    principal: claim.principal,
    credential: claim.credential,
    key: claim.key,
    claimId: claim.claimId,
    status: response.status,
    contentType: response.contentType,
    body: response.body,
  });
  return rows.length > 0;
}

/**
 * Extends the lease of these claims to `lockMs` from now, in one statement,
 * each only while its attempt still holds it (the same claim id, still
 * IN_PROGRESS): a claim that was completed, released or taken over is never
 * extended. Found by the primary key, so it reads only those rows. Returns
 * how many were extended.
 */
export async function renewClaims(db: Kysely<Database>, claims: ReadonlyArray<KeyRef & { claimId: string }>, lockMs: number): Promise<number> {
  if (claims.length === 0) return 0;
  const result = await db
    .updateTable('idempotency_keys')
    .set({ locked_until: interval(lockMs) })
    .where('status', '=', 'IN_PROGRESS')
    .where((eb) =>
      eb(
        eb.refTuple('principal', 'credential', 'key', 'claim_id'),
        'in',
        claims.map((claim) => eb.tuple(claim.principal, claim.credential, claim.key, claim.claimId)),
      ),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Drops this attempt's IN_PROGRESS claim (the request ended without a
 * response worth keeping). Safe when the attempt's outcome is unknown (its
 * COMMIT lost the connection): while that transaction still lives it holds
 * the row's lock (it completed the row), so this waits for it and then finds
 * the row COMPLETED (it committed: nothing to drop) or still IN_PROGRESS (it
 * rolled back: dropped).
 */
export async function releaseClaim(db: Kysely<Database>, claim: KeyRef & { claimId: string }): Promise<void> {
  await releaseClaimStatement(db, null, { principal: claim.principal, credential: claim.credential, key: claim.key, claimId: claim.claimId });
}

/**
 * Deletes at most `limit` records past their retention; returns how many.
 * Rows a request holds locked (reclaiming an expired key) are skipped, not
 * waited for: the next run takes them.
 */
export async function deleteExpiredKeys(db: Kysely<Database>, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM idempotency_keys
     WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT ${limit} FOR UPDATE SKIP LOCKED))`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
