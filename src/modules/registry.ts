import type { Kysely } from 'kysely';

import { accountsModule } from './accounts/index.js';
import { auditModule } from './audit/index.js';
import { categoriesModule } from './categories/index.js';
import { ordersModule } from './orders/index.js';
import { productsModule } from './products/index.js';
import { reviewsModule } from './reviews/index.js';
import { usersModule } from './users/index.js';
import type { NodeFetcher } from './module.js';
import { NODE_TYPES, type NodeType } from './node-types.js';
import type { Database } from './tables.js';

/**
 * The one list of modules. Adding a module means adding its folder, a line
 * here, its tables in ./tables.ts and its node types in ./node-types.ts; schema, resolvers, permissions,
 * loaders and node types all come from its descriptor.
 */
export const modules = [usersModule, categoriesModule, productsModule, reviewsModule, accountsModule, auditModule, ordersModule] as const;

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
if (unfetched.length > 0) throw new Error(`No module fetches node type ${unfetched.join(', ')} (src/modules/node-types.ts)`);
