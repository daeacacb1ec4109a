/**
 * The real application (Fastify + Apollo) listening on an ephemeral loopback
 * port, over its own clone of the migrated template database, driven through
 * HTTP with the global fetch: what a client sees, headers and status included.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';

import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createAppDatabase } from '../../src/db/bootstrap.js';
import { createDb } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';

import { baseLoggerOptions, createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, dropTestDatabase, newTestDatabaseName, testDatabaseUrl } from './database.js';

/** How long close() lets app.close() take before it gives up on a graceful stop. */
const CLOSE_TIMEOUT_MS = 10_000;

export interface GraphQLErrorLocation {
  line: number;
  column: number;
}

export interface GraphQLResponseError {
  message: string;
  locations?: GraphQLErrorLocation[];
  path?: Array<string | number>;
  extensions?: Record<string, unknown>;
}

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLResponseError[];
  extensions?: Record<string, unknown>;
}

export interface GraphQLResult<T> {
  status: number;
  headers: Headers;
  body: GraphQLResponse<T>;
}

/**
 * Headers of a client that accepts application/graphql-response+json: it gets
 * 4xx for parse, validation and coercion failures. The default `graphql()`
 * client accepts only application/json and gets 200 for those (GraphQL over HTTP).
 */
export const GRAPHQL_RESPONSE_JSON = { accept: 'application/graphql-response+json' } as const;

export interface GraphQLRequestInit {
  headers?: Record<string, string>;
  operationName?: string;
}

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string };

export interface TestServerOptions {
  /** Keep every log line (info and above) in `logs` instead of discarding them. */
  captureLogs?: boolean;
  /** graphql-shield on (default) or off; off only to compare statement counts and overhead. */
  authorization?: boolean;
  /** Environment for loadConfig, over NODE_ENV=test and LOG_LEVEL=silent (DATABASE_URL is always the test database). */
  env?: Record<string, string>;
  /** Serve the database of this running server instead of a new one (a second instance); it is not dropped on close. */
  shareDatabaseOf?: TestServer;
  /**
   * Rewrites the URL the application's pool connects with (e.g. through a
   * TcpProxy, to take the database away under it). `db` always connects directly.
   */
  appDatabaseUrl?: (url: string) => string;
  /**
   * Runs the application behind a transaction pooler: its DATABASE_URL is
   * what this returns for the test database's URL (PgBouncer in front of
   * it), with DATABASE_POOLER=transaction and DATABASE_DIRECT_URL the test
   * database itself.
   */
  pooledThrough?: (url: string) => string;
  /**
   * Serves this database (made by the test, on a server of its own) instead
   * of a clone of the template; it is neither created nor dropped here.
   */
  databaseUrl?: string;
}

export interface TestServer {
  /** The test database's name (for a second instance on it: `shareDatabaseOf`). */
  databaseName: string;
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  baseUrl: string;
  config: Config;
  app: FastifyInstance;
  /**
   * The application's database, for arranging and inspecting rows. Its own
   * pool: destroying it does not touch the application's (configured by
   * DATABASE_POOL_MAX / DATABASE_STATEMENT_TIMEOUT_MS like in production).
   */
  db: Kysely<Database>;
  /** POSTs a JSON GraphQL request to /graphql. Rejects if the response is not JSON. */
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: object,
    init?: GraphQLRequestInit,
  ): Promise<GraphQLResult<T>>;
  /** Any request to the server; `path` is relative to baseUrl (e.g. "/health/ready"). */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Log lines written so far when started with `captureLogs`. */
  logs: LogLine[];
  /** Drops the database under the running application (its sessions are terminated): a lost database. */
  dropDatabase(): Promise<void>;
  /** Stops the server and drops its database; safe to call twice. */
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const shared = options.shareDatabaseOf;
  const given = options.databaseUrl;
  const name = given !== undefined ? decodeURIComponent(new URL(given).pathname.slice(1)) : shared ? shared.databaseName : newTestDatabaseName();
  const directUrl = given ?? testDatabaseUrl(name);
  const pooled = options.pooledThrough?.(directUrl);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...options.env,
    ...(pooled === undefined ? { DATABASE_URL: directUrl } : { DATABASE_URL: pooled, DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: directUrl }),
  });
  const database = given !== undefined ? ownPool(given) : shared ? { url: testDatabaseUrl(name), db: shared.db, drop: async () => undefined } : await createTestDatabase({ name });
  const logs: LogLine[] = [];
  const logger = options.captureLogs
    ? pino(
        baseLoggerOptions('info'),
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
            done();
          },
        }),
      )
    : createLogger({ logLevel: config.logLevel, logFormat: 'json' });
  // As src/db/bootstrap.ts builds it: the pooler's settings, and the read replicas when READ_DATABASE_URL is set.
  const appDatabase = createAppDatabase(config, pooled ?? (options.appDatabaseUrl ? options.appDatabaseUrl(database.url) : database.url), logger);
  const appDb = appDatabase.db;

  let app: FastifyInstance | undefined;
  let baseUrl: string;
  try {
    app = await buildApp({ config, db: appDb, logger, ...(options.authorization === false ? { authorization: false } : {}) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address !== 'object') throw new Error('the test server has no TCP address');
    baseUrl = `http://127.0.0.1:${address.port}`;
  } catch (error) {
    await stopApp(app).catch(() => undefined);
    await appDatabase.destroy();
    await database.drop();
    throw error;
  }
  const started = app;

  const request = (path: string, init?: RequestInit): Promise<Response> => fetch(new URL(path, baseUrl), init);

  async function graphql<T>(query: string, variables?: object, init: GraphQLRequestInit = {}): Promise<GraphQLResult<T>> {
    const response = await request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...init.headers },
      body: JSON.stringify({ query, variables, operationName: init.operationName }),
    });
    const text = await response.text();
    let body: GraphQLResponse<T>;
    try {
      body = JSON.parse(text) as GraphQLResponse<T>;
    } catch {
      throw new Error(`POST /graphql answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
    }
    return { status: response.status, headers: response.headers, body };
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      try {
        await stopApp(started);
      } finally {
        await appDatabase.destroy();
        await database.drop();
      }
    })();
    return closed;
  };

  return {
    databaseName: name,
    baseUrl,
    config,
    app: started,
    db: database.db,
    graphql,
    logs,
    request,
    dropDatabase: () => dropTestDatabase(database.url, name, { force: true }),
    close,
  };
}

/** A pool on a database the test made itself: closed with the server, the database left as it is. */
function ownPool(url: string): { url: string; db: Kysely<Database>; drop: () => Promise<void> } {
  const db = createDb({ url, poolMax: 5, statementTimeoutMs: 15_000 });
  return { url, db, drop: () => db.destroy() };
}

/**
 * app.close(), bounded: a close that never finishes (e.g. an onClose hook that
 * itself awaits app.close()) fails the test with a reason instead of timing
 * out the hook, and the port is released all the same.
 */
async function stopApp(app: FastifyInstance | undefined): Promise<void> {
  if (!app) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([app.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') {
      app.server.closeAllConnections();
      app.server.close();
      throw new Error(
        `app.close() did not finish within ${CLOSE_TIMEOUT_MS} ms (does an onClose hook wait for app.close() itself?)`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
