import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import type { Resolvers } from '../graphql/generated/resolvers-types.js';
import type { MaybePromise } from '../loaders/record-loader.js';
import type { Scope } from '../scope/scope.js';
import type { NodeType } from './node-types.js';

/** Fetches an object for `node(id:)`, with the same visibility as its own query; `null` when hidden or missing. */
export type NodeFetcher<L> = (scope: Scope<L>, id: string) => MaybePromise<object | null>;

/**
 * What a module gives the application: its part of the schema, resolvers,
 * permission rules, loaders and node types. `src/modules/registry.ts` lists
 * the modules; nothing else needs to know them. A module's tables are its
 * `Tables` interface, merged into `Database` by the registry.
 */
export interface ModuleDescriptor<L> {
  name: string;
  /** SDL files of the module, under `schema/`. */
  schema: readonly string[];
  /** Resolver map; Mutation resolvers may return `effects` (src/scope/effects.ts). */
  resolvers: Resolvers<never>;
  /** graphql-shield rules, `Type -> field -> rule`, for every field the module's SDL defines. */
  permissions: Record<string, Record<string, unknown>>;
  /** The module's loaders, built on a handle (pool or transaction). */
  createLoaders: (db: Kysely<Database>) => L;
  /** Object types with global ids, and how `node(id:)` fetches each. */
  nodeTypes: Partial<Record<NodeType, NodeFetcher<L>>>;
}

export function defineModule<L>(descriptor: ModuleDescriptor<L>): ModuleDescriptor<L> {
  return descriptor;
}
