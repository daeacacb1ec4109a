/**
 * The real application (Fastify + Apollo) listening on an ephemeral loopback
 * port, over its own clone of the migrated template database, driven through
 * HTTP with the global fetch: what a client sees, headers and status included.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';

import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, newTestDatabaseName, testDatabaseUrl } from './database.js';

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

export interface GraphQLRequestInit {
  headers?: Record<string, string>;
  operationName?: string;
}

export interface TestServerOptions {
  /** Environment for loadConfig, over NODE_ENV=test and LOG_LEVEL=silent (DATABASE_URL is always the test database). */
  env?: Record<string, string>;
}

export interface TestServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  baseUrl: string;
  config: Config;
  app: FastifyInstance;
  /** The same database the application uses, for arranging and inspecting rows. */
  db: Kysely<Database>;
  /** POSTs a JSON GraphQL request to /graphql. Rejects if the response is not JSON. */
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: object,
    init?: GraphQLRequestInit,
  ): Promise<GraphQLResult<T>>;
  /** Any request to the server; `path` is relative to baseUrl (e.g. "/health/ready"). */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the server and drops its database; safe to call twice. */
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const name = newTestDatabaseName();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...options.env,
    DATABASE_URL: testDatabaseUrl(name),
  });
  const database = await createTestDatabase({
    name,
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
  });

  let app: FastifyInstance;
  let baseUrl: string;
  try {
    const logger = createLogger({ logLevel: config.logLevel, logFormat: 'json' });
    app = await buildApp({ config, db: database.db, logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address !== 'object') throw new Error('the test server has no TCP address');
    baseUrl = `http://127.0.0.1:${address.port}`;
  } catch (error) {
    await database.drop();
    throw error;
  }

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
        await app.close();
      } finally {
        await database.drop();
      }
    })();
    return closed;
  };

  return { baseUrl, config, app, db: database.db, graphql, request, close };
}
