import type { Kysely } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';

import type { Database } from '../db/database.js';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/faults.js';
import { createClaimKeeper } from './claim-keeper.js';
import { createClaimReleaser, renewClaimLeases, type Claim } from './idempotency.service.js';

/**
 * The claims of one process's keyed requests, from the claim to the end of
 * the request: renewed while the request runs (./claim-keeper.ts), released
 * when it ends without a stored response (`ClaimReleaser`, retrying through
 * an outage). Trouble with either is logged once per outage, not per
 * request: the pool warns about the outage itself (src/db/availability.ts).
 */
export interface ClaimUpkeep {
  /** The request holds `claim` now: keep its lease until `done` or `release`. */
  hold(claim: Claim): void;
  /** The request's claim was completed (committed) or lost (taken over): stop renewing it. */
  done(claim: Claim): void;
  /** The request ended without a stored response: stop renewing `claim` and free it. Never throws. */
  release(claim: Claim): Promise<void>;
  /** On shutdown, once requests have ended: no more renewals, one last try for pending releases. */
  close(timeoutMs: number): Promise<void>;
}

export function createClaimUpkeep(db: Kysely<Database>, log: FastifyBaseLogger): ClaimUpkeep {
  let releaseTrouble = false;
  const releaser = createClaimReleaser(db, {
    onRetrying: (_claim, error) => {
      if (releaseTrouble) return;
      releaseTrouble = true;
      log.info({ db: describeDatabaseError(error) }, 'could not free idempotency keys of failed requests: retrying until the database answers');
    },
  });
  const keeper = createClaimKeeper((claims) => renewClaimLeases(db, claims), {
    onFailing: (error, claims) => {
      const fields = { db: describeDatabaseError(error), claims };
      const message = 'could not renew the idempotency keys of running requests: retrying every few seconds';
      // An outage is the pool's to report; anything else (a timeout, a deadlock) is worth a warning.
      if (isDatabaseUnavailable(error)) log.info(fields, message);
      else log.warn(fields, message);
    },
  });
  return {
    hold: (claim) => keeper.hold(claim),
    done: (claim) => keeper.letGo(claim),
    async release(claim) {
      keeper.letGo(claim);
      await releaser.release(claim);
      if (releaseTrouble && releaser.pending === 0) releaseTrouble = false;
    },
    async close(timeoutMs) {
      keeper.close();
      await releaser.close(timeoutMs);
    },
  };
}
