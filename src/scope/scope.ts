import type { Kysely } from 'kysely';
import type { BaseLogger } from 'pino';

import type { AuthRuntime } from '../auth/runtime.js';
import type { Config } from '../config/types.js';
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/database.js';
import type { UnitState } from '../db/unit-state.js';
import type { TransitionStates } from '../transitions/phases.js';

import type { ChangeFeed } from './change-feed.js';
import type { EventSinkOf } from './event-types.js';

/**
 * The request scope: everything a service may use to do one piece of work
 * for one caller. It knows nothing of HTTP, Fastify or Apollo, so an HTTP
 * request, a WebSocket connection, a job worker or a script builds one the
 * same way, with `buildScope`.
 */

/** A pino-compatible logger; `child` adds bindings to every line. */
export interface ScopeLogger extends BaseLogger {
  child(bindings: Record<string, unknown>): ScopeLogger;
}

/** Where the work came from. For a job or a script, describe the job (its id, `ip` of the host). */
export interface RequestMeta {
  /** Correlates log lines and audit events of one piece of work. */
  id: string;
  ip: string;
  userAgent: string | null;
  /** The Origin header: browsers send it on cross-origin and POST requests; `null` elsewhere. */
  origin: string | null;
  /** Cookies the caller sent (`{}` when the transport has none). */
  cookies: Readonly<Record<string, string | undefined>>;
}

/** What lives as long as the application and is shared by every scope. */
export interface ScopeDeps<L = unknown> {
  /** The connection pool. Only the unit of work (src/db/unit-of-work.ts) opens transactions. */
  db: Kysely<Database>;
  auth: AuthRuntime;
  /** Builds every module's loaders on a handle (the pool, or a transaction). */
  createLoaders: (db: Kysely<Database>) => L;
  /** Hears what committed writes changed (src/scope/changes.ts); absent when nothing keeps derived copies. */
  changes?: ChangeFeed;
  /**
   * Hear each unit's domain events (src/scope/events.ts) inside its
   * transaction, right before COMMIT; a sink that throws rolls the unit back.
   */
  eventSinks?: readonly EventSinkOf<Scope>[];
  /**
   * The phases of the schema changes made in phases (src/transitions/), as
   * this instance last read them: which shape services write and read.
   */
  transitions: TransitionStates;
  /** Outbound webhook settings (src/modules/webhooks); absent: the production defaults (https, public targets only). */
  webhooks?: Config['webhooks'];
}

/**
 * `L` is the loaders the holder may use. Each module types its services with
 * the loaders it needs (`Scope<UserLoaders>`); a scope with every module's
 * loaders satisfies all of them.
 */
export interface Scope<L = unknown> {
  /** The authenticated caller; `null` when anonymous. */
  viewer: Viewer | null;
  readonly request: RequestMeta;
  /** Carries `requestId`, and `userId`/`via` once the caller is known. */
  readonly log: ScopeLogger;
  readonly deps: ScopeDeps<L>;
  /** The pool handle of this scope (outside any transaction). */
  readonly pool: Kysely<Database>;
  /** The pool, or the transaction of the unit of work this scope runs in. */
  readonly db: Kysely<Database>;
  /** Loaders built on `db`: inside a unit of work they read the unit's own writes. */
  loaders: L;
  /** The open unit of work, or `null` outside one. */
  readonly unit: UnitState | null;
}

export interface ScopeInput<L> {
  deps: ScopeDeps<L>;
  request: RequestMeta;
  /** The application's logger; the scope's logger is a child of it. */
  log: ScopeLogger;
  viewer?: Viewer | null;
  /** The pool handle to use; defaults to `deps.db` (the HTTP edge passes one that counts statements). */
  db?: Kysely<Database>;
}

function callerBindings(viewer: Viewer | null): Record<string, unknown> {
  return viewer ? { userId: viewer.userId, via: viewer.via } : {};
}

/** The one way to build a scope. */
export function buildScope<L>(input: ScopeInput<L>): Scope<L> {
  const db = input.db ?? input.deps.db;
  const viewer = input.viewer ?? null;
  return {
    viewer,
    request: input.request,
    log: input.log.child({ requestId: input.request.id, ...callerBindings(viewer) }),
    deps: input.deps,
    pool: db,
    db,
    loaders: input.deps.createLoaders(db),
    unit: null,
  };
}

/**
 * The same scope acting for `viewer` (after authentication): its logger
 * carries the user id from now on, and its loaders (which may hold the
 * caller's row already) are kept.
 */
export function withViewer<L, S extends Scope<L>>(scope: S, viewer: Viewer | null): S {
  return { ...scope, viewer, log: scope.log.child(callerBindings(viewer)) };
}
