import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { WorkerLoop, WorkerLoopContext } from '../../jobs/task.js';
import type { Logger } from '../../observability/logger.js';
import { buildScope, type Scope, type ScopeDeps } from '../../scope/scope.js';
import { LEASE_MARGIN_MS, claimAttempts, claimOrphans, type Claim, type DeliveryRun } from './attempt.service.js';
import { deliverClaims } from './webhook.tasks.js';
import { webhookSettings } from './webhook.settings.js';

/**
 * The webhook dispatcher: the first attempts of the deliveries a process's
 * own units of work write, made by that process without a job, in batches
 * across units; and a sweep for deliveries nobody attempted.
 *
 * Every process that runs the job worker (`npm start` with WORKER=on, or
 * `npm run worker`) runs one (the `webhooks.dispatcher` worker loop). While it
 * runs, the outbox (./sink.ts) of a unit of work on the same database handle
 * writes no `webhooks.deliver` job: it writes the deliveries leased already
 * (`claimed_by` a name of the dispatcher's for that unit, `claimed_until` the
 * attempt's timeout plus 5 s ahead, as a job's claim would), reads back what
 * the attempts need (event, endpoint, sealed secrets), and hands them to the
 * dispatcher after the COMMIT (never after a rollback). The dispatcher
 * attempts them in batches: a batch takes every delivery handed over since the
 * last one, up to `BATCH_MAX`, and starts at most every `WEBHOOK_DISPATCH_INTERVAL_MS` (at once
 * after a quiet spell), at most WORKER_CONCURRENCY batches at once (so a
 * receiver that hangs holds up its own batch only); its HTTP calls run
 * concurrently and its 2xx are recorded in one statement
 * (./webhook.tasks.ts `deliverClaims`). So a delivery costs no claim
 * statement, no job, and a share of one recording statement. What is not a
 * 2xx is recorded as a job's attempt is, and its retry is a job (./queue.ts).
 * A delivery whose lease could end before its attempt does (it waited behind
 * slow batches) is claimed again first. A process without a worker
 * (WORKER=off) writes jobs as before, for the worker processes to run.
 *
 * What no job covers, the sweep does: every `SWEEP_INTERVAL_MS` (and when it
 * starts) each dispatcher claims the pending deliveries that have been due
 * for `ORPHAN_GRACE_MS` or longer and that nobody holds (no lease, or an
 * ended one), oldest first, in one statement that skips rows another sweep is
 * taking (`claimOrphanedDeliveries`), and attempts them. That is a delivery
 * whose process died after the commit and before its attempt was recorded
 * (SIGKILL, a crash): its lease ends after the attempt's timeout plus 5 s,
 * and a sweep of any worker attempts it again at most `ORPHAN_GRACE_MS` plus
 * `SWEEP_INTERVAL_MS` after it was written (at least once, same
 * `webhook-id`). A job-borne delivery that no worker ran in that time is
 * swept too; its job then finds nothing to do.
 *
 * On stop the dispatcher starts what it holds at once and waits for its
 * batches and its sweep; units committing from then on write jobs.
 */

/** Deliveries claimed by one batch at most (and by one sweep). */
export const BATCH_MAX = 50;
/** Batches start at most this often by default (WEBHOOK_DISPATCH_INTERVAL_MS): under load, a batch takes what committed since the last one. */
export const DEFAULT_SPACING_MS = 50;
/** How often each dispatcher sweeps. */
export const SWEEP_INTERVAL_MS = 5000;
/** How long a pending delivery has been due, with nobody holding it, before a sweep takes it. */
export const ORPHAN_GRACE_MS = 30_000;

const dispatchers = new WeakMap<Kysely<Database>, Dispatcher>();

/** The running dispatcher for units of work on `db` (a scope's `deps.db`), if this process runs one. */
export function dispatcherFor(db: Kysely<Database>): Dispatcher | undefined {
  return dispatchers.get(db);
}

/** The lease the outbox writes its deliveries under, and when it ends by this process's clock (at the latest). */
export interface DispatchLease {
  claimant: string;
  leaseMs: number;
  /** `performance.now()` by which the lease has surely ended: taken before the statement that sets it. */
  expires: number;
}

interface Queued {
  claim: Claim;
  expires: number;
}

export class Dispatcher {
  private readonly queue: Queued[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly name = `dispatch:${randomUUID()}`;
  private leases = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  private readonly spacingMs: number;

  constructor(
    private readonly deps: ScopeDeps<unknown>,
    private readonly log: Logger,
    private readonly maxBatches: number,
  ) {
    this.spacingMs = deps.webhooks?.dispatchIntervalMs ?? DEFAULT_SPACING_MS;
  }

  /** A lease for the deliveries one unit of work writes (a name of its own: no other run of this process takes it back). */
  lease(scope: Scope): DispatchLease {
    const leaseMs = webhookSettings(scope).timeoutMs + LEASE_MARGIN_MS;
    return { claimant: this.claimant(), leaseMs, expires: performance.now() + leaseMs };
  }

  /** Deliveries committed leased to this dispatcher (`lease`): attempted soon, in a batch (at once once it has stopped). */
  dispatch(claims: readonly Claim[], expires: number): void {
    this.queue.push(...claims.map((claim) => ({ claim, expires })));
    if (this.stopped) this.start();
    else this.pump();
  }

  /** Claims and attempts the deliveries due for `graceMs` that nobody holds (one sweep, `BATCH_MAX` at most). */
  async sweep(graceMs = ORPHAN_GRACE_MS): Promise<Map<string, DeliveryRun>> {
    const scope = this.scope();
    const claims = await claimOrphans(scope, this.claimant(), graceMs, BATCH_MAX);
    if (claims.length === 0) return new Map();
    this.log.warn({ deliveries: claims.length }, 'webhook deliveries due for a while with nobody attempting them: attempting them now');
    return deliverClaims(scope, claims);
  }

  /** Sweeps unless a sweep is running; a failed sweep is logged (the next one tries again). */
  sweepInBackground(): void {
    if (this.stopped) return;
    this.sweeping ??= this.sweep()
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error }, 'webhook sweep failed; trying again later'),
      )
      .finally(() => (this.sweeping = undefined));
  }

  /** Starts what waits at once, and resolves when every batch and the sweep have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.queue.length > 0) this.start();
    await Promise.all([...this.running, this.sweeping]);
  }

  private scope(): Scope {
    return buildScope({ deps: this.deps, request: { id: 'webhooks.dispatcher', ip: '127.0.0.1', userAgent: 'webhook dispatcher', origin: null, cookies: {} }, log: this.log });
  }

  private claimant(): string {
    this.leases += 1;
    return `${this.name}:${this.leases}`;
  }

  /** Starts a batch now if none started in the last spacing interval and fewer than the concurrency run, else when that holds. */
  private pump(): void {
    if (this.stopped || this.queue.length === 0 || this.running.size >= this.maxBatches || this.timer) return;
    const wait = this.lastStart + this.spacingMs - performance.now();
    if (wait <= 0) {
      this.start();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private start(): void {
    this.lastStart = performance.now();
    const batch = this.queue.splice(0, BATCH_MAX);
    const run: Promise<void> = this.attempt(batch)
      .catch((error: unknown) => {
        // Their leases end, then a sweep attempts them: nothing is lost.
        this.log.error({ err: error, deliveries: batch.length }, 'webhook dispatch failed; a sweep will attempt its deliveries once their leases end');
      })
      .finally(() => {
        this.running.delete(run);
        this.pump();
      });
    this.running.add(run);
    this.pump();
  }

  /**
   * One attempt of each: a lease that could end before the attempt does (a
   * batch that waited long behind slow ones) is taken again first, by the
   * same claimant (gone if another run took it meanwhile).
   */
  private async attempt(batch: readonly Queued[]): Promise<void> {
    const scope = this.scope();
    const settings = webhookSettings(scope);
    const now = performance.now();
    const fresh = batch.filter((queued) => queued.expires - now > settings.timeoutMs + LEASE_MARGIN_MS / 2).map((queued) => queued.claim);
    const stale = batch.filter((queued) => queued.expires - now <= settings.timeoutMs + LEASE_MARGIN_MS / 2).map((queued) => queued.claim);
    const renewed = (await Promise.all(stale.map((claim) => claimAttempts(scope, [claim.delivery.id], claim.claimant)))).flat();
    await deliverClaims(scope, [...fresh, ...renewed]);
  }
}

/** The worker loop (`webhooks.dispatcher`): a dispatcher for the worker's database handle, and its sweep timer. */
export const dispatcherLoop: WorkerLoop = {
  start({ deps, log, concurrency }: WorkerLoopContext) {
    const dispatcher = new Dispatcher(deps, log, Math.max(1, concurrency));
    dispatchers.set(deps.db, dispatcher);
    dispatcher.sweepInBackground();
    const timer = setInterval(() => dispatcher.sweepInBackground(), SWEEP_INTERVAL_MS);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        if (dispatchers.get(deps.db) === dispatcher) dispatchers.delete(deps.db);
        await dispatcher.stop();
      },
    };
  },
};
