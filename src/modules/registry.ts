import type { Kysely, Migration } from 'kysely';

import { scheduledTask, TASK_NAME } from '../jobs/schedules.js';
import type { Config } from '../config/types.js';
import type { Schedule, TaskDefinition, WorkerLoop } from '../jobs/task.js';
import type { Change, ChangeKinds } from '../scope/change-feed.js';
import type { EventSinkOf } from '../scope/event-types.js';
import type { Scope } from '../scope/scope.js';
import type { TransitionDefinition } from '../transitions/transition.js';

import { accountsModule } from './accounts/index.js';
import { auditModule } from './audit/index.js';
import { categoriesModule } from './categories/index.js';
import { ordersModule } from './orders/index.js';
import { paymentsModule } from './payments/index.js';
import { productsModule } from './products/index.js';
import { reviewsModule } from './reviews/index.js';
import { usersModule } from './users/index.js';
import { webhooksModule } from './webhooks/index.js';
import { wishlistsModule } from './wishlists/index.js';
import type { ChangeOf, NodeFetcher } from './module.js';
import { NODE_TYPES, type NodeType } from './node-types.js';
import { CROSS_CUTTING_TABLES, type Database } from './tables.js';

/**
 * The one list of modules. Adding a module means adding its folder, its SDL,
 * its migration file and a line here (plus its codegen mappers and its rows
 * in the authorization matrix; a type that `implements Node` in its SDL is a
 * node type by that alone, and needs a fetcher in its descriptor's `nodeTypes`).
 * Everything else comes from its descriptor (src/modules/module.ts). Order
 * matters only for the SDL: a module whose extension file extends another
 * module's type comes after that module.
 */
export const modules = [auditModule, usersModule, categoriesModule, productsModule, reviewsModule, accountsModule, ordersModule, wishlistsModule, paymentsModule, webhooksModule] as const;

type UnionToIntersection<U> = (U extends unknown ? (arg: U) => void : never) extends (arg: infer I) => void ? I : never;

/** Every module's loaders together. */
export type AppLoaders = UnionToIntersection<ReturnType<(typeof modules)[number]['createLoaders']>>;

/** Every module's loaders, built fresh for each scope (and each unit of work) so nothing is cached across callers. */
export function createLoaders(db: Kysely<Database>): AppLoaders {
  return Object.assign({}, ...modules.map((module) => module.createLoaders(db))) as AppLoaders;
}

/** How `node(id:)` fetches each object type with a global id. */
export const nodeFetchers: ReadonlyMap<NodeType, NodeFetcher<AppLoaders>> = new Map(
  modules.flatMap((module) => Object.entries(module.nodeTypes) as [NodeType, NodeFetcher<AppLoaders>][]),
);
const unfetched = NODE_TYPES.filter((type) => !nodeFetchers.has(type));
if (unfetched.length > 0) throw new Error(`No module fetches node type ${unfetched.join(', ')} (it implements Node in the SDL; declare a fetcher in its module's descriptor)`);

/** Every module's migrations, by name (migrations/index.ts adds the cross-cutting ones). */
export const moduleMigrations: Record<string, Migration> = Object.assign({}, ...modules.map((module) => module.migrations)) as Record<string, Migration>;

/** Every table of the application's schema: each module's own (its descriptor's `tables`) and the cross-cutting ones. */
export const appTables: readonly (keyof Database)[] = [...modules.flatMap((module) => module.tables), ...CROSS_CUTTING_TABLES];
type OwnedTables = (typeof modules)[number]['tables'][number] | (typeof CROSS_CUTTING_TABLES)[number];
/** Compiles only while every table of `Database` is listed by its module's descriptor (or is cross-cutting). */
export const _everyTableOwned: Exclude<keyof Database, OwnedTables> extends never ? true : never = true;
const owners = new Map<string, string>();
for (const module of modules) {
  for (const table of module.tables) {
    const owner = owners.get(table);
    if (owner) throw new Error(`Table ${table} is listed by modules ${owner} and ${module.name}`);
    owners.set(table, module.name);
  }
}

type ChangeTagsOf<M> = M extends { changeTags: infer T } ? T : never;
type DeclaredChangeKinds = keyof UnionToIntersection<ChangeTagsOf<(typeof modules)[number]>>;
/** Compiles only while every change kind some module declares (`ChangeKinds`) has its tags in some descriptor. */
export const _everyChangeKindTagged: Exclude<keyof ChangeKinds, DeclaredChangeKinds> extends never ? true : never = true;

const tagsByKind = new Map<string, (change: Change) => string[]>();
for (const module of modules) {
  for (const [kind, tags] of Object.entries(module.changeTags)) {
    if (tagsByKind.has(kind)) throw new Error(`Change kind ${kind} is declared by two modules`);
    tagsByKind.set(kind, tags as (change: Change) => string[]);
  }
}

/** The cache tags a change drops, as its module's descriptor declares them. */
export function changeTags<K extends keyof ChangeKinds>(change: ChangeOf<K>): string[] {
  const tags = tagsByKind.get(change.entity);
  if (!tags) throw new Error(`No module declares cache tags for change kind ${change.entity}`);
  return tags(change);
}

/** What the job worker and the unit of work read from a descriptor, whatever its loaders (each module's tasks take its own). */
interface JobDeclarations {
  name: string;
  tasks?: Record<string, object>;
  schedules?: readonly Schedule[] | ((config: Config) => readonly Schedule[]);
  loops?: Record<string, object>;
  eventSinks?: readonly object[];
}

/** Every module's job tasks, by name (`<module>.<verb>`), run by the worker (src/jobs/worker.ts). */
export const jobTasks: ReadonlyMap<string, TaskDefinition<AppLoaders>> = new Map(
  modules.flatMap((module: JobDeclarations) =>
    Object.entries(module.tasks ?? {}).map(([name, task]): [string, TaskDefinition<AppLoaders>] => {
      if (!name.startsWith(`${module.name}.`) || !TASK_NAME.test(name)) throw new Error(`Task ${name} of module ${module.name} must be named ${module.name}.<verb>`);
      return [name, task as TaskDefinition<AppLoaders>];
    }),
  ),
);

/** Every module's worker loops, by name (`<module>.<noun>`), run beside the jobs by the worker (src/jobs/worker.ts). */
export const workerLoops: ReadonlyMap<string, WorkerLoop<AppLoaders>> = new Map(
  modules.flatMap((module: JobDeclarations) =>
    Object.entries(module.loops ?? {}).map(([name, loop]): [string, WorkerLoop<AppLoaders>] => {
      if (!name.startsWith(`${module.name}.`)) throw new Error(`Worker loop ${name} of module ${module.name} must be named ${module.name}.<noun>`);
      return [name, loop as WorkerLoop<AppLoaders>];
    }),
  ),
);

/** Every module's crontab lines for this configuration; each names a task of its own module. */
export function jobSchedules(config: Config): readonly Schedule[] {
  return modules.flatMap((module: JobDeclarations) => {
    const lines = typeof module.schedules === 'function' ? module.schedules(config) : (module.schedules ?? []);
    for (const line of lines) {
      const task = scheduledTask(line);
      if (task === undefined || !jobTasks.has(task) || !task.startsWith(`${module.name}.`)) {
        throw new Error(`Schedule "${line}" of module ${module.name} names no task of that module`);
      }
    }
    return lines;
  });
}

/** Every module's sinks of domain events, in module order. */
export const eventSinks: readonly EventSinkOf<Scope<AppLoaders>>[] = modules.flatMap(
  (module: JobDeclarations) => (module.eventSinks ?? []) as readonly EventSinkOf<Scope<AppLoaders>>[],
);

/** Mutations that refuse to run without an `Idempotency-Key` header, from every module's descriptor. */
export const keyRequiredMutations: ReadonlySet<string> = new Set(modules.flatMap((module) => module.keyRequiredMutations ?? []));

/**
 * Every module's schema changes made in phases (src/transitions/). Each
 * names migrations and a backfill task of its own module, checked here.
 */
export const transitionDefinitions: readonly TransitionDefinition[] = modules.flatMap((module: JobDeclarations & { migrations: Record<string, unknown>; transitions?: readonly TransitionDefinition[] }) =>
  (module.transitions ?? []).map((definition) => {
    const own = (what: string, ok: boolean) => {
      if (!ok) throw new Error(`Transition ${definition.name} of module ${module.name}: ${what}`);
    };
    own('must be named <module>.<name>', definition.name.startsWith(`${module.name}.`) && TASK_NAME.test(definition.name));
    own(`its expand migration ${definition.expand} is not one of the module's`, definition.expand in module.migrations);
    if (definition.contract !== undefined) {
      own(`its contract migration ${definition.contract} is not one of the module's`, definition.contract in module.migrations);
      own('its contract must come after its expand', definition.contract > definition.expand);
    }
    own(`its backfill task ${definition.backfill.task} is not one of the module's`, jobTasks.has(definition.backfill.task) && definition.backfill.task.startsWith(`${module.name}.`));
    return definition;
  }),
);
