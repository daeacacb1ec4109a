/**
 * Claim leases: how a keyed request keeps its claim while it runs, and how
 * the claim of a process that died frees itself.
 *
 * The contract:
 * - A claim binds for its lease, `IDEMPOTENCY_LOCK_MS` (15 s), after it was
 *   made or last renewed (`locked_until`); after that the next request with
 *   the key takes it over.
 * - Each process keeps the claims of its own keyed requests in flight, from
 *   the claim until the request's claim is completed, released or lost
 *   (`hold` ... `letGo`). While it keeps any, it renews them every
 *   `CLAIM_RENEW_EVERY_MS` (5 s): ONE statement for all of them, extending
 *   `locked_until` to a full lease from now, each only where the row still
 *   names the same claim id and is IN_PROGRESS, so a claim completed,
 *   released or taken over is never extended. While it keeps none, there is
 *   no timer and no statement.
 * - So a request that runs longer than the lease keeps its claim for as long
 *   as its process lives and its renewals reach the database (three chances
 *   per lease); a claim of a process that died (SIGKILL, OOM, a lost node) is
 *   free at most one lease after its last renewal, i.e. within 15 s of the
 *   death, and the client's retry with the key then runs.
 * - The lease is liveness, not safety: a request whose claim was taken over
 *   (its process stalled, or its renewals failed for a whole lease) cannot
 *   store its response, since that update names its own claim id, and rolls
 *   back (idempotency.http.ts). At most one attempt per key commits.
 * - A renewal that fails (the database is down, no pool connection came free
 *   in time) is tried again at the next tick; `onFailing` is told once per run
 *   of failures (until a renewal succeeds again), not per tick or per claim.
 * - Renewals never overlap: the next tick is due `everyMs` after the previous
 *   one started, or when it ends if it took longer.
 * - The timer never keeps the process alive (unref), and `close` stops it
 *   for good (on shutdown, once the requests have ended).
 * - Renewals run outside the context of the request that started the timer
 *   (its trace, when tracing is on): the keeper's own async scope, taken when
 *   it was created. They run on the application's pool handle, so they take
 *   nothing of any request's pool share.
 */
import { AsyncResource } from 'node:async_hooks';

import type { Claim } from './idempotency.service.js';

/** How often the claims in flight are renewed: three renewals per lease (IDEMPOTENCY_LOCK_MS). */
export const CLAIM_RENEW_EVERY_MS = 5_000;

/** Extends the lease of every claim given, in one statement. */
export type RenewClaims = (claims: readonly Claim[]) => Promise<unknown>;

/** The clock and timers the keeper runs on (a fake in tests). */
export interface KeeperClock {
  now(): number;
  /** Calls `run` after `ms`; must not keep the process alive. */
  setTimer(run: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

export interface ClaimKeeper {
  /** Keeps `claim` renewed until `letGo` (or `close`). */
  hold(claim: Claim): void;
  /** Stops renewing `claim`: its request completed, released or lost it. Safe for a claim not held. */
  letGo(claim: Claim): void;
  /** Claims held now. */
  readonly held: number;
  /** Stops renewing for good; a renewal already running finishes. */
  close(): void;
}

export interface ClaimKeeperOptions {
  everyMs?: number;
  /** The first renewal of a run of failing ones failed (told once until one succeeds again). */
  onFailing?: (error: unknown, claims: number) => void;
  clock?: KeeperClock;
}

const realClock: KeeperClock = {
  now: () => Date.now(),
  setTimer: (run, ms) => setTimeout(run, ms).unref(),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export function createClaimKeeper(renew: RenewClaims, options: ClaimKeeperOptions = {}): ClaimKeeper {
  const everyMs = options.everyMs ?? CLAIM_RENEW_EVERY_MS;
  const clock = options.clock ?? realClock;
  // Created now, with the application (outside any request): each tick runs in this scope.
  const scope = new AsyncResource('IdempotencyClaimKeeper');
  /** By claim id: one per attempt. */
  const claims = new Map<string, Claim>();
  let timer: unknown;
  let renewing = false;
  let failing = false;
  let closed = false;

  const schedule = (delay: number) => {
    if (closed || renewing || timer !== undefined || claims.size === 0) return;
    timer = clock.setTimer(() => scope.runInAsyncScope(tick), delay);
  };

  const stopTimer = () => {
    if (timer === undefined) return;
    clock.clearTimer(timer);
    timer = undefined;
  };

  const renewed = () => {
    failing = false;
  };
  const failed = (error: unknown) => {
    if (failing) return;
    failing = true;
    options.onFailing?.(error, claims.size);
  };

  const tick = () => {
    timer = undefined;
    if (closed || claims.size === 0) return;
    renewing = true;
    const startedAt = clock.now();
    const held = [...claims.values()];
    void Promise.resolve()
      .then(() => renew(held))
      .then(renewed, failed)
      .finally(() => {
        renewing = false;
        schedule(Math.max(0, everyMs - (clock.now() - startedAt)));
      })
      // Only a throwing callback gets here: the keeper goes on.
      .catch(() => undefined);
  };

  return {
    hold(claim) {
      if (closed) return;
      claims.set(claim.claimId, claim);
      schedule(everyMs);
    },
    letGo(claim) {
      claims.delete(claim.claimId);
      if (claims.size === 0) stopTimer();
    },
    get held() {
      return claims.size;
    },
    close() {
      closed = true;
      stopTimer();
      claims.clear();
    },
  };
}
