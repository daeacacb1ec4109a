import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';

import type { AuthRuntime } from '../auth/runtime.js';
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/database.js';
import { SqlStatsPlugin, type RequestStats } from '../observability/request-stats.js';
import * as accounts from '../modules/accounts/index.js';
import * as audit from '../modules/audit/index.js';
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
    ...accounts.createLoaders(db),
    ...audit.createLoaders(db),
  };
}

export interface CookieOptions {
  maxAgeSeconds: number;
}

/** The parts of the HTTP exchange that services may read or affect. */
export interface RequestInfo {
  id: string;
  ip: string;
  userAgent: string | null;
  /** The Origin header: browsers send it on cross-origin and POST requests. */
  origin: string | null;
  cookie(name: string): string | undefined;
  /** Sets an httpOnly, Secure, SameSite=Strict cookie on the response, at Path=/. */
  setCookie(name: string, value: string, options: CookieOptions): void;
  clearCookie(name: string): void;
  setHeader(name: string, value: string): void;
}

/** What services need: the request's database handle, loaders, caller and HTTP details. */
export interface ServiceContext {
  db: Kysely<Database>;
  loaders: Loaders;
  log: FastifyBaseLogger;
  request: RequestInfo;
  /** The authenticated caller; `null` for anonymous requests. */
  viewer: Viewer | null;
  auth: AuthRuntime;
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
  request: RequestInfo;
  stats: RequestStats;
  auth: AuthRuntime;
}

export function createContext({ db, log, request, stats, auth }: ContextInput): GraphQLContext {
  // The SQL plugin counts this request's statements for its log line.
  const requestDb = db.withPlugin(new SqlStatsPlugin(stats));
  return {
    db: requestDb,
    loaders: createLoaders(requestDb),
    log,
    request,
    viewer: null,
    auth,
    requestId: request.id,
    stats,
    nodeTypes: new WeakMap(),
  };
}
