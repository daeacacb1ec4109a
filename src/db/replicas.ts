/**
 * Read replicas (READ_DATABASE_URL): one Kysely instance over the primary's
 * pool and a pool per streaming replica, built on `kysely-replication`,
 * which sends every write, raw statement and transaction to the primary and
 * asks a strategy where each plain SELECT goes. Here the strategy answers
 * with the place chosen for the whole request (`ReadRoute`, carried by
 * AsyncLocalStorage like the request's pool share), so one request's reads,
 * its loaders' included, come from one place:
 *
 * - outside an HTTP request (jobs, live updates, probes, scripts), and in a
 *   request until its operation is known (authentication): the primary;
 * - a query: one usable replica, round robin; the primary when none is
 *   usable, or when the caller wrote within READ_REPLICA_MAX_LAG
 *   (read-your-writes; decided by src/graphql/read-routing.ts);
 * - a mutation: the primary; and everything inside a unit of work is a
 *   transaction, which is always the primary's.
 *
 * A replica is usable when the monitor reached it at its last poll, it is
 * still in recovery (a standby, not promoted), and it is at most
 * READ_REPLICA_MAX_LAG behind. Lag is measured without trusting clocks or
 * replay timestamps: each poll reads the primary's WAL position (a sample:
 * "at time t the primary had written up to P"), then each replica's replay
 * position; a replica that has replayed P has everything committed before
 * t, and its lag is the time since the newest such t. An idle primary
 * therefore shows no lag, and a replica whose replay stopped shows a lag
 * that grows with the clock, even while the monitor cannot reach the
 * primary.
 *
 * Why READ_REPLICA_MAX_LAG is also the read-your-writes window: a read
 * routed to a replica at time r goes to one that had everything committed
 * before r - READ_REPLICA_MAX_LAG; a caller whose mutation answered at w
 * reads from the primary until w + READ_REPLICA_MAX_LAG, so whenever they
 * read from a replica it has their write.
 *
 * A read whose replica fails under it (the connection lost, the server
 * gone) runs again on the primary, and the rest of its request reads there:
 * stopping a replica costs no request an error.
 *
 * The shared response cache stores an answer read on a replica with the
 * cache's invalidation sequence as of the newest sample that replica had
 * replayed (`tokenFor`), so an invalidation the replica may not reflect yet
 * keeps the answer out of the cache.
 *
 * kysely-replication 0.3.0's driver has no savepoints; the unit of work
 * needs them, so they are added (`ReplicationDriver` in
 * src/db/replication-dialect.ts), run on the
 * transaction's (primary) connection.
 */
import { performance } from 'node:perf_hooks';

import { Kysely, PostgresDialect, type Dialect, type PostgresPool } from 'kysely';

import { observeReplicas, type ReplicaObservation } from '../observability/metrics.js';
import { TracingDialect } from '../observability/sql-tracing.js';
import type { OutageLog } from './availability.js';
import { openPool, registerPool, type ConnectionOptions, type OpenedPool } from './connection.js';
import type { Database } from './database.js';
import { describeDatabaseError } from './faults.js';
import { registerShareableDialect, ShareableDialect } from './pool-share.js';
import { currentWalPosition, replayPosition } from './cluster.repository.js';
import { currentReadRoute, RouteStrategy, type ReadRoute } from './read-route.js';
import { fallingBack, ReplicationDialect } from './replication-dialect.js';

/** What readiness reports of a replica. */
export type ReplicaStateName = 'starting' | 'ok' | 'lagging' | 'down' | 'not_replica';

export interface ReplicaState {
  /** `replica-1`, `replica-2`, ... (never the URL). */
  name: string;
  state: ReplicaStateName;
  /** How far behind it was at the last poll, in ms; null when unknown. */
  lagMs: number | null;
}

/**
 * One poll's reading of the primary: at `at` (performance.now()) it had
 * written up to `position`; `sequence` is the response cache's invalidation
 * sequence read just before (every invalidation up to it followed a commit
 * at or below `position`).
 */
interface Sample {
  at: number;
  position: bigint;
  sequence: number | undefined;
}

interface Replica {
  readonly name: string;
  readonly slot: number;
  readonly pool: OpenedPool;
  /** For the monitor's own statements (no routing, no request share). */
  readonly db: Kysely<Database>;
  /** What the last poll found; `down` also after a read failed on it, until a poll reaches it again. */
  seen: 'starting' | 'reachable' | 'down' | 'not_replica';
  /** It had replayed everything the primary had written at this moment; undefined: before every kept sample. */
  caughtUpAt: number | undefined;
  /** That sample's invalidation sequence of the response cache. */
  caughtUpSequence: number | undefined;
  /** Whether it served reads when last told (for logging changes once). */
  wasUsable: boolean;
}

export interface ReplicaOptions {
  /** How the primary is reached (its pool also serves reads that stay on it). */
  primary: ConnectionOptions;
  /** READ_DATABASE_URL: one pool each, with the primary's settings. */
  urls: readonly string[];
  maxLagMs: number;
  log: OutageLog & { debug(fields: Record<string, unknown>, message: string): void };
  /** @default a quarter of maxLagMs, between 50 ms and 1 s */
  pollMs?: number;
}

/**
 * The replicas of one server process: the routed Kysely instance (`db`),
 * the monitor, and the routing decisions. `db.destroy()` ends every pool;
 * `close()` stops the monitor.
 */
export class ReadReplicas {
  readonly db: Kysely<Database>;
  readonly maxLagMs: number;
  readonly pollMs: number;
  private readonly replicas: Replica[];
  private readonly primaryDb: Kysely<Database>;
  private readonly samples: Sample[] = [];
  private readonly log: ReplicaOptions['log'];
  private turn = 0;
  private closed = false;
  /** Ends the monitor's waits at close. */
  private readonly wakers = new Set<() => void>();
  private readonly loops: Promise<void>[];
  private readonly stopObserving: () => void;
  /** The response cache's invalidation sequence, read with each sample (`watchSequence`). */
  private readSequence: (() => Promise<number>) | undefined;

  constructor(options: ReplicaOptions) {
    this.maxLagMs = options.maxLagMs;
    this.pollMs = options.pollMs ?? Math.min(1_000, Math.max(50, Math.floor(options.maxLagMs / 4)));
    this.log = options.log;
    const primary = openPool(options.primary);
    this.primaryDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: primary.postgres }) });
    this.replicas = options.urls.map((url, index) => {
      const name = `replica-${index + 1}`;
      const pool = openPool(
        { ...options.primary, url },
        {
          observed: false,
          messages: { down: `read replica ${name} unavailable: its reads go to the primary`, up: `read replica ${name} reachable again` },
        },
      );
      return {
        name,
        slot: index + 1,
        pool,
        db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool.postgres }) }),
        seen: 'starting',
        caughtUpAt: undefined,
        caughtUpSequence: undefined,
        wasUsable: false,
      };
    });
    // Each statement is a span when tracing is on (src/observability/sql-tracing.ts), traced on the pool that runs it.
    const traced = (pool: PostgresPool): Dialect => new TracingDialect(new PostgresDialect({ pool }));
    const dialect = new ReplicationDialect({
      primaryDialect: traced(primary.postgres),
      // Slot 0 is the primary's own pool: a request whose reads stay on the primary.
      replicaDialects: [
        traced(primary.postgres),
        ...this.replicas.map((replica) => traced(fallingBack(replica.pool.postgres, primary.postgres, (error) => this.failed(replica, error)))),
      ],
      replicaStrategy: new RouteStrategy(),
    });
    const shareable = new ShareableDialect(dialect);
    this.db = new Kysely<Database>({ dialect: shareable });
    registerPool(this.db, primary.pool);
    registerShareableDialect(this.db, shareable);
    this.stopObserving = observeReplicas(() => this.observations());
    // Each on its own loop: a replica that takes its connect timeout to fail delays nobody's measurement.
    this.loops = [this.loop(() => this.sample()), ...this.replicas.map((replica) => this.loop(() => this.pollReplica(replica)))];
  }

  /**
   * Decides where a query's reads go: a usable replica (round robin), or the
   * primary when none is usable. Callers decide `mutation` and
   * `recent_write` themselves (`route.toPrimary`).
   */
  route(route: ReadRoute): void {
    const now = performance.now();
    const usable = this.replicas.filter((replica) => this.usable(replica, now));
    const replica = usable.length === 0 ? undefined : usable[this.turn++ % usable.length];
    if (replica === undefined) {
      route.toPrimary('no_replica');
      return;
    }
    route.slot = replica.slot;
    route.reason = 'query';
    route.caughtUpSequence = replica.caughtUpSequence;
  }

  /** Each replica's state, for readiness. */
  states(): ReplicaState[] {
    const now = performance.now();
    return this.replicas.map((replica) => {
      const lag = this.lagOf(replica, now);
      return { name: replica.name, state: this.stateOf(replica, lag), lagMs: lag === undefined ? null : Math.round(lag) };
    });
  }

  /** The response cache's store: its invalidation sequence is read before each sample of the primary. */
  watchSequence(read: () => Promise<number>): void {
    this.readSequence = read;
  }

  /**
   * The token a response read by the running request may be stored with in
   * the response cache: the lookup's own after reading the primary; after a
   * replica, the invalidation sequence that replica had caught up with when
   * chosen, if older (the store then refuses the response when one of its
   * tags was invalidated since); undefined when that is unknown.
   */
  tokenFor(token: number): number | undefined {
    const route = currentReadRoute();
    if (route === undefined || route.slot === 0) return token;
    return route.caughtUpSequence === undefined ? undefined : Math.min(token, route.caughtUpSequence);
  }

  /** Stops the monitor (the pools end with `db.destroy()`). */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    this.stopObserving();
  }

  private async loop(poll: () => Promise<void>): Promise<void> {
    while (!this.closed) {
      await poll();
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, this.pollMs);
        timer.unref();
        this.wakers.add(wake);
      });
    }
  }

  /** How far behind the replica is now: from its newest replayed sample; undefined when unknown or unreachable. */
  private lagOf(replica: Replica, now: number): number | undefined {
    return replica.seen === 'reachable' && replica.caughtUpAt !== undefined ? now - replica.caughtUpAt : undefined;
  }

  /** Reachable at its last poll, replaying, and within READ_REPLICA_MAX_LAG now (the lag grows between polls). */
  private usable(replica: Replica, now: number): boolean {
    const lag = this.lagOf(replica, now);
    return lag !== undefined && lag <= this.maxLagMs;
  }

  private stateOf(replica: Replica, lag: number | undefined): ReplicaStateName {
    if (replica.seen !== 'reachable') return replica.seen;
    return lag !== undefined && lag <= this.maxLagMs ? 'ok' : 'lagging';
  }

  private observations(): ReplicaObservation[] {
    const now = performance.now();
    return this.replicas.map((replica) => {
      const lag = this.lagOf(replica, now);
      return { name: replica.name, lagSeconds: lag === undefined ? undefined : lag / 1000, usable: this.usable(replica, now) };
    });
  }

  /** A read failed on the replica: skipped until a poll reaches it again; the request's further reads go to the primary. */
  private failed(replica: Replica, error: unknown): void {
    currentReadRoute()?.toPrimary('replica_failed');
    if (replica.seen === 'down') return;
    replica.seen = 'down';
    this.tell(replica);
    this.log.debug({ replica: replica.name, db: describeDatabaseError(error) }, 'read replica failed a read; it ran on the primary');
  }

  /** One reading of the primary's WAL position. */
  private async sample(): Promise<void> {
    let sequence: number | undefined;
    try {
      sequence = await this.readSequence?.();
    } catch {
      // Replicas caught up with this sample store nothing in the response cache (the store is away anyway).
    }
    const at = performance.now();
    try {
      this.samples.push({ at, position: await currentWalPosition(this.primaryDb), sequence });
    } catch (error) {
      // Without samples, lags grow with the clock: replicas are skipped once READ_REPLICA_MAX_LAG has passed.
      this.log.debug({ db: describeDatabaseError(error) }, 'replica monitor: the primary did not tell its WAL position');
    }
    this.pruneSamples(performance.now());
  }

  private async pollReplica(replica: Replica): Promise<void> {
    try {
      const { inRecovery, replayed } = await replayPosition(replica.db);
      if (!inRecovery || replayed === null) {
        replica.seen = 'not_replica';
        replica.caughtUpAt = undefined;
        replica.caughtUpSequence = undefined;
      } else {
        replica.seen = 'reachable';
        // The newest sample it has replayed; found anew each poll (a restarted standby may have replayed less than before).
        let caughtUp: Sample | undefined;
        for (let i = this.samples.length - 1; i >= 0 && caughtUp === undefined; i -= 1) {
          const sample = this.samples[i];
          if (sample !== undefined && sample.position <= replayed) caughtUp = sample;
        }
        replica.caughtUpAt = caughtUp?.at;
        replica.caughtUpSequence = caughtUp?.sequence;
      }
    } catch {
      // Its pool logs the outage once (src/db/availability.ts, with the replica's own lines).
      replica.seen = 'down';
    }
    this.tell(replica);
  }

  /** Logs a replica starting or stopping to serve reads, once per change. */
  private tell(replica: Replica): void {
    const now = performance.now();
    const usable = this.usable(replica, now);
    if (usable === replica.wasUsable) return;
    replica.wasUsable = usable;
    const lag = this.lagOf(replica, now);
    if (usable) this.log.info({ replica: replica.name, lagMs: Math.round(lag ?? 0) }, 'read replica serves reads');
    else this.log.warn({ replica: replica.name, state: this.stateOf(replica, lag), lagMs: lag === undefined ? null : Math.round(lag) }, 'read replica skipped: its reads go to the primary');
  }

  /** Keeps the samples a replica within READ_REPLICA_MAX_LAG (and a poll) may still be matched with, and always the newest. */
  private pruneSamples(now: number): void {
    const horizon = now - this.maxLagMs - 2 * this.pollMs;
    let drop = 0;
    while (drop < this.samples.length - 1 && (this.samples[drop]?.at ?? now) < horizon) drop += 1;
    if (drop > 0) this.samples.splice(0, drop);
  }
}

/** The read replicas behind a Kysely instance made by `ReadReplicas` (read by the HTTP edge and readiness). */
export function replicasOf(db: object): ReadReplicas | undefined {
  return byDb.get(db);
}

const byDb = new WeakMap<object, ReadReplicas>();

/** The routed Kysely instance over the primary and `options.urls`, registered for `replicasOf`. */
export function createReplicatedDb(options: ReplicaOptions): ReadReplicas {
  const replicas = new ReadReplicas(options);
  byDb.set(replicas.db, replicas);
  return replicas;
}
