/**
 * Where one HTTP request's plain reads go (the primary or one replica),
 * carried by AsyncLocalStorage like the request's pool share, and the
 * strategy kysely-replication asks for each read (src/db/replicas.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import type { ReplicaStrategy } from 'kysely-replication';

import { countRead } from '../observability/metrics.js';

/** Why a request's reads go to the primary. */
export type PrimaryReason = 'pending' | 'mutation' | 'recent_write' | 'no_replica' | 'replica_failed';

/**
 * Where one HTTP request's reads go. Until `ReadReplicas.route` decides, the
 * primary (`pending`); slot 0 is the primary, slot n is replica-n.
 */
export class ReadRoute {
  slot = 0;
  reason: PrimaryReason | 'query' = 'pending';
  /** For a replica: the response cache's invalidation sequence it had caught up with when chosen (see ReadReplicas.tokenFor). */
  caughtUpSequence: number | undefined;

  toPrimary(reason: PrimaryReason): void {
    this.slot = 0;
    this.reason = reason;
    this.caughtUpSequence = undefined;
  }

  /** The chosen place, as metrics and logs name it. */
  get target(): string {
    return this.slot === 0 ? 'primary' : `replica-${this.slot}`;
  }
}

const currentRoute = new AsyncLocalStorage<ReadRoute>();

/** Runs `work` (and what it starts) with `route` deciding where its plain reads go. Used per HTTP request (src/http/pipeline.ts). */
export function runWithReadRoute<T>(route: ReadRoute, work: () => T): T {
  return currentRoute.run(route, work);
}

/** The read route of the running request, if any. */
export function currentReadRoute(): ReadRoute | undefined {
  return currentRoute.getStore();
}

/** The strategy kysely-replication asks for each plain read: the current request's place. */
export class RouteStrategy implements ReplicaStrategy {
  readonly onTransaction = 'error' as const;

  async next(): Promise<number> {
    const route = currentRoute.getStore();
    if (route === undefined) {
      countRead('primary', 'background');
      return 0;
    }
    countRead(route.target, route.reason);
    return route.slot;
  }
}
