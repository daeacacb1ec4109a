import type { ResponseCapture } from '../cache/tag-collection.js';
import type { RequestStats } from '../observability/request-stats.js';
import type { TransportEffect } from '../scope/effects.js';
import type { Scope } from '../scope/scope.js';

/** Where the GraphQL edge applies the effects services return (the HTTP response, today). */
export interface EffectTarget {
  apply(effect: TransportEffect): void;
}

/**
 * The GraphQL context of one request: its scope (src/scope/) plus what only
 * the GraphQL layer needs. `L` is the loaders; resolvers of a module type the
 * context with the loaders they use, the server builds it with all of them.
 */
export interface GraphQLContext<L = unknown> extends Scope<L> {
  requestId: string;
  stats: RequestStats;
  /** Which object type `node`/`nodes` resolved each object as (read by `Node.__resolveType`). */
  nodeTypes: WeakMap<object, string>;
  /** Applies a service's effects to the response. */
  effects: EffectTarget;
  /**
   * Set by the idempotency edge when the caller may not run a keyed mutation
   * (src/authz/shield.ts): the permission rules answer as they would, and no
   * mutation resolver runs, whatever a rule says.
   */
  mutationsBlocked?: boolean;
  /** Set when the response may be stored in the shared cache: collects its tags (src/cache/). */
  responseCache?: ResponseCapture;
}

/** The GraphQL context around a built scope. */
export function createContext<L>(scope: Scope<L>, stats: RequestStats, effects: EffectTarget): GraphQLContext<L> {
  return { ...scope, requestId: scope.request.id, stats, nodeTypes: new WeakMap(), effects };
}
