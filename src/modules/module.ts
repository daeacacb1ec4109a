import type { Kysely, Migration } from 'kysely';

import type { Config } from '../config/types.js';
import type { Database } from '../db/database.js';
import type { MutationResolvers, Resolvers } from '../graphql/generated/resolvers-types.js';
import type { Schedule, TaskDefinition, WorkerLoop } from '../jobs/task.js';
import type { MaybePromise } from '../loaders/record-loader.js';
import type { Change, ChangeKinds } from '../scope/change-feed.js';
import type { EventSinkOf } from '../scope/event-types.js';
import type { Scope } from '../scope/scope.js';
import type { TransitionDefinition } from '../transitions/transition.js';
import type { NodeType } from './node-types.js';

/** Fetches an object for `node(id:)`, with the same visibility as its own query; `null` when hidden or missing. */
export type NodeFetcher<L> = (scope: Scope<L>, id: string) => MaybePromise<object | null>;

/** The change of one kind, as `recordChanges` takes it. */
export type ChangeOf<K extends keyof ChangeKinds> = Extract<Change, { entity: K }>;

/** For each change kind a module records, the cache tags (src/cache/tag-names.ts) it drops. */
export type ChangeTagMap = { [K in keyof ChangeKinds]?: (change: ChangeOf<K>) => string[] };

/**
 * What a module declares about itself. `src/modules/registry.ts` lists the
 * modules; the cross-cutting code reads these declarations from it and names
 * no module thing of its own:
 *
 * - `schema`, `resolvers`, `permissions`, `createLoaders`: its part of the
 *   GraphQL schema (src/graphql/schema.ts, src/authz/permissions.ts, the
 *   per-request loaders).
 * - `nodeTypes`: the object types with global ids it fetches for `node(id:)`.
 * - `tables`: the tables it owns (the ones its `*.table.ts` files add to
 *   `Database`); the registry does not compile while a table of `Database` is
 *   owned by no module and not cross-cutting (`CROSS_CUTTING_TABLES`).
 * - `migrations`: its files in migrations/ (migrations/index.ts lists every
 *   module's; the migrator applies them in name order).
 * - `changeTags`: the change kinds it records and the cache tags each drops
 *   (src/cache/tags.ts).
 * - `keyRequiredMutations`: its mutations that refuse to run without an
 *   `Idempotency-Key` (src/idempotency/idempotency.http.ts).
 * - `tasks`, `schedules`: the jobs it runs after the response and the
 *   crontab lines that enqueue some of them (src/jobs/, the worker);
 *   `loops`: work it runs beside them in every worker process.
 * - `eventSinks`: what it does with every unit's domain events, in the
 *   unit's transaction before COMMIT (src/scope/events.ts).
 * - `transitions`: its schema changes made in phases (expand, backfill,
 *   switch, contract: src/transitions/), each naming its own migrations and
 *   its backfill task.
 *
 * Three declarations are types, which TypeScript composes by interface
 * merging (a module augments the cross-cutting interface from one of its own
 * files, so nothing outside the module names it and no import circle forms):
 * its tables (`Database`, src/modules/tables.ts, augmented from its
 * `*.table.ts`), its change kinds (`ChangeKinds`, src/scope/change-feed.ts)
 * and its audit actions (`AuditActions`, src/modules/audit/audit.actions.ts),
 * both augmented from its `index.ts`. Module-specific error codes live in
 * src/errors/codes.ts, whose sync test keeps docs/ERRORS.md true.
 */
export interface ModuleDescriptor<L, T extends ChangeTagMap = ChangeTagMap, Tb extends readonly (keyof Database)[] = readonly (keyof Database)[]> {
  name: string;
  /** SDL files of the module, under `schema/`; extension files (`<type>.<module>.graphql`) after the files they extend. */
  schema: readonly string[];
  /** Resolver map; Mutation resolvers may return `effects` (src/scope/effects.ts). */
  resolvers: Resolvers<never>;
  /** graphql-shield rules, `Type -> field -> rule`, for every field the module's SDL defines. */
  permissions: Record<string, Record<string, unknown>>;
  /** The module's loaders, built on a handle (pool or transaction). */
  createLoaders: (db: Kysely<Database>) => L;
  /** Object types with global ids, and how `node(id:)` fetches each. */
  nodeTypes: Partial<Record<NodeType, NodeFetcher<L>>>;
  /** The tables it owns: those its `*.table.ts` files add to `Database`. */
  tables: Tb;
  /** The module's migrations (files in migrations/), by file name without extension. */
  migrations: Record<string, Migration>;
  /** The change kinds the module records, and the cache tags each drops. */
  changeTags: T;
  /** Mutations that refuse to run without an `Idempotency-Key` header (money or stock moves). */
  keyRequiredMutations?: readonly (keyof MutationResolvers)[];
  /** Its job tasks by name, each `<module name>.<verb>` (src/jobs/task.ts). */
  tasks?: Record<string, TaskDefinition<L>>;
  /** Crontab lines (graphile-worker syntax) naming its own tasks; a function when they depend on the configuration. */
  schedules?: readonly Schedule[] | ((config: Config) => readonly Schedule[]);
  /** Loops the worker runs beside the jobs, by name (`<module name>.<noun>`; src/jobs/task.ts). */
  loops?: Record<string, WorkerLoop<L>>;
  /** Sinks of domain events (src/scope/events.ts), given each unit's events before its COMMIT. */
  eventSinks?: readonly EventSinkOf<Scope<L>>[];
  /** Its schema changes made in phases (src/transitions/): migrations and backfill task of its own. */
  transitions?: readonly TransitionDefinition[];
}

export function defineModule<L, T extends ChangeTagMap = ChangeTagMap, const Tb extends readonly (keyof Database)[] = readonly []>(
  descriptor: ModuleDescriptor<L, T, Tb>,
): ModuleDescriptor<L, T, Tb> {
  return descriptor;
}
