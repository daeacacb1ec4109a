import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import type { FastifyBaseLogger } from 'fastify';
import { SqlStatsPlugin, type RequestStats } from '../observability/request-stats.js';
import * as categories from '../modules/categories/index.js';
import * as products from '../modules/products/index.js';
import * as reviews from '../modules/reviews/index.js';
import * as users from '../modules/users/index.js';
import type { NodeType } from './global-id.js';

export type Loaders = ReturnType<typeof createLoaders>;

/** Every module's loaders, built fresh for each request so nothing is cached across viewers. */
export function createLoaders(db: Kysely<Database>) {
  return {
    ...users.createLoaders(db),
    ...categories.createLoaders(db),
    ...products.createLoaders(db),
    ...reviews.createLoaders(db),
  };
}

/** What services need: the request's database handle and loaders. */
export interface ServiceContext {
  db: Kysely<Database>;
  loaders: Loaders;
  log: FastifyBaseLogger;
}

/** The GraphQL context of one request. */
export interface GraphQLContext extends ServiceContext {
  requestId: string;
  stats: RequestStats;
  /** Which object type `node`/`nodes` resolved each object as (read by `Node.__resolveType`). */
  nodeTypes: WeakMap<object, NodeType>;
}

export interface ContextInput {
  db: Kysely<Database>;
  log: FastifyBaseLogger;
  requestId: string;
  stats: RequestStats;
}

export function createContext({ db, log, requestId, stats }: ContextInput): GraphQLContext {
  // The SQL plugin counts this request's statements for its log line.
  const requestDb = db.withPlugin(new SqlStatsPlugin(stats));
  return { db: requestDb, loaders: createLoaders(requestDb), log, requestId, stats, nodeTypes: new WeakMap() };
}
