import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { completeClaim, deleteExpiredKeys, findKey, insertClaim, releaseClaim, takeOverStaleKey, type ClaimValues } from './idempotency.repository.js';

/** How long a stored response is replayed (and a key binds to its request). */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600 * 1000;
/**
 * How long an IN_PROGRESS claim binds before another request may take it
 * over: longer than any request can run (the statement timeout is far
 * shorter), short enough that a key abandoned by a crashed process frees
 * itself soon. A late finisher whose claim was taken over cannot complete it
 * (its update names its own claim id) and rolls back.
 */
export const IDEMPOTENCY_LOCK_MS = 120 * 1000;

export interface Claim {
  principal: string;
  key: string;
  claimId: string;
}

export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: Claim }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'reused' }
  | { kind: 'in-progress' };

/**
 * Claims (principal, key) for a request with this fingerprint, in its own
 * statements on the pool (committed at once, so concurrent requests see the
 * claim): a new key is claimed; a completed one with the same fingerprint is
 * replayed; a different fingerprint is a reuse; a running one is in progress;
 * an expired or abandoned one is taken over.
 */
export async function claimKey(
  db: Kysely<Database>,
  request: { principal: string; key: string; fingerprint: string },
  options: { lockMs?: number; retentionMs?: number } = {},
): Promise<ClaimOutcome> {
  const values: ClaimValues = {
    ...request,
    claimId: randomUUID(),
    lockMs: options.lockMs ?? IDEMPOTENCY_LOCK_MS,
    retentionMs: options.retentionMs ?? IDEMPOTENCY_RETENTION_MS,
  };
  const claim: Claim = { principal: request.principal, key: request.key, claimId: values.claimId };
  // A row can vanish between the insert and the read (its request ended in a server error): try again, a few times.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await insertClaim(db, values)) return { kind: 'claimed', claim };
    const existing = await findKey(db, request.principal, request.key);
    if (!existing) continue;
    const now = Date.now();
    const stale = existing.expires_at.getTime() <= now || (existing.status === 'IN_PROGRESS' && existing.locked_until.getTime() <= now);
    if (stale) {
      if (await takeOverStaleKey(db, values)) return { kind: 'claimed', claim };
      continue;
    }
    if (existing.fingerprint !== request.fingerprint) return { kind: 'reused' };
    if (existing.status === 'IN_PROGRESS') return { kind: 'in-progress' };
    return {
      kind: 'replay',
      response: { status: existing.response_status ?? 200, contentType: existing.response_content_type ?? 'application/json', body: existing.response_body ?? '' },
    };
  }
  return { kind: 'in-progress' };
}

/** Stores the response on the claim in the caller's transaction; `false` when the claim was taken over meanwhile. */
export function storeResponse(trx: Kysely<Database>, claim: Claim, response: StoredResponse): Promise<boolean> {
  return completeClaim(trx, claim, response);
}

/** Frees the claim so the client may retry with the same key. */
export function releaseKey(db: Kysely<Database>, claim: Claim): Promise<void> {
  return releaseClaim(db, claim);
}

/** Deletes records past their 24-hour retention. */
export function purgeExpiredKeys(db: Kysely<Database>): Promise<number> {
  return deleteExpiredKeys(db);
}
