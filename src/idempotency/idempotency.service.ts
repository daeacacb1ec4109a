import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/database.js';
import { deleteInBatches, type PurgeResult } from '../jobs/purge.js';
import type { Scope } from '../scope/scope.js';
import {
  completeClaim,
  deleteExpiredKeys,
  findKey,
  insertClaim,
  releaseClaim,
  renewClaims,
  takeOverStaleKey,
  type ClaimValues,
  type KeyRef,
} from './idempotency.repository.js';
import type { ResponseSealer } from './sealed-response.js';

/** How long a stored response is replayed (and a key binds to its request). */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600 * 1000;
/**
 * The lease of an IN_PROGRESS claim: how long it binds after it was made or
 * last renewed before another request may take it over. The process running
 * the request renews it every few seconds while the request runs
 * (./claim-keeper.ts), so a request may run longer than this; a claim left
 * by a process that died frees itself within this. A late finisher whose
 * claim was taken over cannot complete it (its update names its own claim id)
 * and rolls back. A claim whose request ended while the database was down is
 * released sooner, by `ClaimReleaser`.
 */
export const IDEMPOTENCY_LOCK_MS = 15 * 1000;

export interface Claim extends KeyRef {
  claimId: string;
  /** Binds the sealed response to this record (see sealed-response.ts). */
  fingerprint: string;
}

export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: Claim }
  | { kind: 'replay'; response: StoredResponse }
  /** A stored response that no longer opens: the server key that sealed it was retired. */
  | { kind: 'unreadable' }
  | { kind: 'reused' }
  | { kind: 'in-progress' };

/**
 * The credential a key is scoped to: the session family of an access token,
 * the API key, or the external provider. A response stored for one is never
 * replayed to another credential of the same user.
 */
export function credentialOf(viewer: Viewer): string {
  if (viewer.apiKeyId !== null) return `api_key:${viewer.apiKeyId}`;
  if (viewer.sessionId !== null) return `session:${viewer.sessionId}`;
  return viewer.via;
}

/** What the sealed body is bound to: a body moved onto another record does not open. */
function binding(ref: KeyRef, fingerprint: string): string {
  return JSON.stringify([ref.principal, ref.credential, ref.key, fingerprint]);
}

/** A new attempt at (principal, credential, key): its claim id is known before any statement, so a claim whose answer was lost can be released. */
export function newClaim(ref: KeyRef, fingerprint: string): Claim {
  return { principal: ref.principal, credential: ref.credential, key: ref.key, fingerprint, claimId: randomUUID() };
}

/**
 * Claims (principal, credential, key) for a request with this fingerprint,
 * in its own statements on the pool (committed at once, so concurrent
 * requests see the claim): a new key is claimed; a completed one with the
 * same fingerprint is replayed; a different fingerprint is a reuse; a
 * running one is in progress; an expired or abandoned one is taken over.
 */
export async function claimKey(
  db: Kysely<Database>,
  sealer: ResponseSealer,
  claim: Claim,
  options: { lockMs?: number; retentionMs?: number } = {},
): Promise<ClaimOutcome> {
  const request = claim;
  const values: ClaimValues = {
    ...claim,
    lockMs: options.lockMs ?? IDEMPOTENCY_LOCK_MS,
    retentionMs: options.retentionMs ?? IDEMPOTENCY_RETENTION_MS,
  };
  // A row can vanish between the insert and the read (its request ended in a server error): try again, a few times.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await insertClaim(db, values)) return { kind: 'claimed', claim };
    const existing = await findKey(db, request);
    if (!existing) continue;
    const now = Date.now();
    const stale = existing.expires_at.getTime() <= now || (existing.status === 'IN_PROGRESS' && existing.locked_until.getTime() <= now);
    if (stale) {
      if (await takeOverStaleKey(db, values)) return { kind: 'claimed', claim };
      continue;
    }
    if (existing.fingerprint !== request.fingerprint) return { kind: 'reused' };
    if (existing.status === 'IN_PROGRESS') return { kind: 'in-progress' };
    const body = sealer.open(existing.response_body ?? '', binding(request, existing.fingerprint));
    if (body === undefined) return { kind: 'unreadable' };
    return {
      kind: 'replay',
      response: { status: existing.response_status ?? 200, contentType: existing.response_content_type ?? 'application/json', body },
    };
  }
  return { kind: 'in-progress' };
}

/** Stores the response, sealed, on the claim in the caller's transaction; `false` when the claim was taken over meanwhile. */
export function storeResponse(trx: Kysely<Database>, sealer: ResponseSealer, claim: Claim, response: StoredResponse): Promise<boolean> {
  return completeClaim(trx, claim, { ...response, body: sealer.seal(response.body, binding(claim, claim.fingerprint)) });
}

/** Extends the lease of claims this process still holds to IDEMPOTENCY_LOCK_MS from now (./claim-keeper.ts), in one statement. */
export function renewClaimLeases(db: Kysely<Database>, claims: readonly Claim[], lockMs = IDEMPOTENCY_LOCK_MS): Promise<number> {
  return renewClaims(db, claims, lockMs);
}

/** Frees the claim so the client may retry with the same key. */
export function releaseKey(db: Kysely<Database>, claim: Claim): Promise<void> {
  return releaseClaim(db, claim);
}

/**
 * Deletes records past their 24-hour retention, in statements of at most
 * `batchSize` rows (the scheduled task `idempotency.purgeKeys`, ./idempotency.tasks.ts).
 */
export function purgeExpiredKeys(scope: Scope, batchSize?: number): Promise<PurgeResult> {
  return deleteInBatches((limit) => deleteExpiredKeys(scope.db, limit), { batchSize });
}

/** Delays between attempts to release a claim while the database does not answer: 100 ms doubling to 1 s. */
export const RELEASE_FIRST_DELAY_MS = 100;
export const RELEASE_MAX_DELAY_MS = 1_000;

/**
 * Releases claims whose request has ended without a stored response, also
 * when the database cannot be reached at that moment: the release is then
 * retried in the background (100 ms, doubling to every second) until it
 * succeeds or the claim's lease has run out anyway (nothing renews a claim
 * after its request ended), so a client's retry with the same key runs
 * within about a second of the database answering again, instead of meeting
 * 409 until the lease runs out.
 */
export interface ClaimReleaser {
  /** Releases now; on failure, keeps trying in the background. Never throws. */
  release(claim: Claim): Promise<void>;
  /** Claims whose release is still being retried. */
  readonly pending: number;
  /** One last attempt for each pending claim (bounded by `timeoutMs`), then stops retrying. */
  close(timeoutMs: number): Promise<void>;
}

export function createClaimReleaser(
  db: Kysely<Database>,
  options: { lockMs?: number; onRetrying?: (claim: Claim, error: unknown) => void } = {},
): ClaimReleaser {
  const lockMs = options.lockMs ?? IDEMPOTENCY_LOCK_MS;
  const waiting = new Map<Claim, NodeJS.Timeout>();
  let closed = false;

  const schedule = (claim: Claim, delay: number, giveUpAt: number) => {
    if (closed || Date.now() + delay >= giveUpAt) return;
    const timer = setTimeout(() => {
      waiting.delete(claim);
      releaseClaim(db, claim).catch(() => schedule(claim, Math.min(delay * 2, RELEASE_MAX_DELAY_MS), giveUpAt));
    }, delay);
    timer.unref();
    waiting.set(claim, timer);
  };

  return {
    async release(claim) {
      try {
        await releaseClaim(db, claim);
      } catch (error) {
        options.onRetrying?.(claim, error);
        schedule(claim, RELEASE_FIRST_DELAY_MS, Date.now() + lockMs);
      }
    },
    get pending() {
      return waiting.size;
    },
    async close(timeoutMs) {
      closed = true;
      const claims = [...waiting.entries()];
      waiting.clear();
      for (const [, timer] of claims) clearTimeout(timer);
      if (claims.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([Promise.allSettled(claims.map(([claim]) => releaseClaim(db, claim))), deadline]);
      clearTimeout(timer);
    },
  };
}
