import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import fastifyCors from '@fastify/cors';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Kysely } from 'kysely';

import { createResponseCache } from './cache/response-cache.js';
import { collectCacheTags } from './cache/tag-collection.js';
import type { Config } from './config/config.js';
import { PoolShare, runWithPoolShare } from './db/connection.js';
import type { Database } from './db/database.js';
import { DATABASE_RETRY_AFTER_SECONDS, isRetryableDatabaseError, logRetryableDatabaseError } from './db/faults.js';
import { requestError } from './errors/errors.js';
import { createFormatError } from './errors/format.js';
import { registerGraphQLRoute } from './http/graphql-route.js';
import { clientErrorHandler, frameworkErrors, registerSecurityHeaders, sendHttpError, timeoutServerOptions } from './http/hardening.js';
import { costPlugin } from './limits/cost.plugin.js';
import { createCostLimiter } from './limits/cost-limiter.js';
import { documentLimitRules } from './limits/query-limits.js';
import { loadTrustedDocuments } from './limits/trusted-documents.js';
import { createPersistedQueryStore, persistedQueryKey } from './limits/persisted-query-store.js';
import { closeRedisClient, createRedisClient, logRedisAvailability } from './redis/client.js';
import { registerAuthentication } from './auth/http.js';
import { registerIdempotency } from './idempotency/idempotency.http.js';
import { createResponseSealer } from './idempotency/sealed-response.js';
import { createAuthRuntime, type AuthRuntime } from './auth/runtime.js';
import { permissions } from './authz/permissions.js';
import { applyPermissions } from './authz/shield.js';
import type { GraphQLContext } from './graphql/context.js';
import { ideCsp, idePlugin, registerIdeAssets } from './graphql/ide.js';
import { createLoaders, type AppLoaders } from './modules/registry.js';
import { responsePlugin } from './graphql/response-plugin.js';
import { buildSchema } from './graphql/schema.js';
import { jitExecutor } from './graphql/executor.js';
import { inputHygienePlugin, inputHygieneRule } from './graphql/input-hygiene.js';
import { registerHealthRoutes } from './health/health.routes.js';
import { registerMediaTypeNegotiation } from './http/media-type.js';
import { poolOf } from './db/connection.js';
import { observabilityPlugin } from './observability/graphql-observability.js';
import { registerHttpObservability } from './observability/http-observability.js';
import { registerDrain, type Drain } from './lifecycle/drain.js';
import type { Logger } from './observability/logger.js';
import { RequestStats } from './observability/request-stats.js';

declare module 'fastify' {
  interface FastifyRequest {
    stats: RequestStats;
  }
  interface FastifyInstance {
    /** Graceful shutdown of the HTTP side: drain delay, then refuse new requests and let running ones finish (src/lifecycle/drain.ts). */
    drain: Drain;
  }
}

export interface AppOptions {
  config: Config;
  db: Kysely<Database>;
  logger: Logger;
  /** Built from `config` when not given; owned (and closed) by the caller when given. */
  auth?: AuthRuntime;
  /**
   * graphql-shield on (the default). Off only to measure its overhead in the
   * benchmark; never in a server that serves traffic.
   */
  authorization?: boolean;
}

/** An incoming X-Request-Id is kept only if it is short and plain; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;


/**
 * The HTTP server: Fastify with Apollo Server at /graphql and health probes.
 * Returned ready to `listen`; closing it drains in-flight GraphQL requests.
 */
export async function buildApp({ config, db, logger, ...options }: AppOptions): Promise<FastifyInstance> {
  // Read before anything opens: a bad file stops start-up with the reason.
  const trusted = config.trustedDocumentsFile ? loadTrustedDocuments(config.trustedDocumentsFile) : undefined;
  // Hash -> document for hash-only requests: the trusted list, or the APQ store Apollo registers into.
  const documents = trusted ? trusted.cache : config.persistedQueries ? createPersistedQueryStore() : undefined;
  // One Redis client, and one circuit breaker, for every user of Redis (login limits, query-cost budgets, response cache).
  const redis = config.redisUrl ? createRedisClient(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs }) : undefined;
  if (redis) logRedisAvailability(redis, logger);
  const auth = options.auth ?? (await createAuthRuntime(config, redis ? { redis } : {}));
  const costLimiter = createCostLimiter({ ...config.rateLimit, ...(redis ? { redis } : {}) });
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    // Fastify's own per-request lines are replaced by the one line logged in onResponse.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Shutdown is src/lifecycle/drain.ts's: main.ts runs app.close() only once every connection
    // has ended, and refusals are the drain's coded 503 (Fastify's own 503 has no error shape).
    // Node's server.close() still closes idle connections; Fastify adds no closing of its own.
    return503OnClosing: false,
    forceCloseConnections: false,
    ...timeoutServerOptions(config),
    clientErrorHandler,
    // Errors Fastify meets before routing (a malformed URL): coded like the rest.
    frameworkErrors,
  });

  app.decorateRequest('stats');
  app.addHook('onRequest', async (request, reply) => {
    request.stats = new RequestStats();
    reply.header('x-request-id', request.id);
  });
  // Before anything else that does work: once the drain delay is over, new requests are refused here.
  const drain = registerDrain(app);
  app.decorate('drain', drain);
  // Everything the request does from here on holds at most this many pool connections at once.
  app.addHook('onRequest', (_request, _reply, done) => {
    runWithPoolShare(new PoolShare(config.databasePoolMaxPerRequest, config.databaseConnectTimeoutMs), done);
  });
  // Tracing (a span per request, trace ids in its log lines), request metrics and GET /metrics.
  await registerHttpObservability(app, { config, pool: poolOf(db) });

  await registerSecurityHeaders(app, ideCsp(config.graphqlIde));
  registerMediaTypeNegotiation(app);
  if (config.corsOrigins.length > 0) {
    // Only listed origins; credentials so that the refresh cookie can travel on refreshSession/logOut.
    await app.register(fastifyCors, {
      origin: config.corsOrigins,
      credentials: true,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: config.corsAllowedHeaders,
      exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate', 'ratelimit', 'ratelimit-policy', 'idempotent-replayed'],
      maxAge: 600,
    });
  }
  // The permission layer, and its rules asked before a keyed mutation runs or replays (src/idempotency).
  const permitted = options.authorization === false ? undefined : applyPermissions(buildSchema(), permissions);
  const schema = permitted?.schema ?? buildSchema();
  // The shared cache of anonymous query responses hears every committed change (src/cache/).
  const responseCache = createResponseCache({
    config: config.responseCache,
    redis,
    limiter: costLimiter,
    schema,
    hashOnlyDocuments: trusted !== undefined || config.persistedQueries,
    log: logger,
  });
  if (responseCache) collectCacheTags(schema);
  await registerAuthentication(app, { db, auth, createLoaders, ...(responseCache ? { changes: responseCache } : {}) });
  // After authentication: keys are scoped to the caller.
  await registerIdempotency(app, db, {
    ...(permitted ? { authorizeOperation: permitted.authorizeOperation } : {}),
    sealer: createResponseSealer(auth.keys),
    // A keyed mutation sent by hash alone is fingerprinted (and refused without a key) like one sent in full.
    documentByHash: async (hash) => (documents ? await documents.get(persistedQueryKey(hash)) : undefined),
  });
  // One line per request: what ran, how long, how it ended, what it cost the database.
  app.addHook('onResponse', async (request, reply) => {
    const { stats } = request;
    const line = {
      method: request.method,
      url: request.url.split('?')[0],
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      operationName: stats.operationName,
      errorCodes: stats.errorCodes.length > 0 ? stats.errorCodes : undefined,
      responseCache: stats.responseCache,
      sqlCount: stats.sqlCount,
      sqlMs: Math.round(stats.sqlMs * 10) / 10,
    };
    if (request.url.startsWith('/health/') || request.url === '/metrics') request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
  });

  // Transport-level failures (bad JSON, oversized body, unsupported media
  // type) get the same error shape as GraphQL errors, with their own codes.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // The database went away, or timed out, while a hook (authentication) needed it.
    if (isRetryableDatabaseError(error)) {
      logRetryableDatabaseError(request.log, error);
      request.stats.errorCodes = ['SERVICE_UNAVAILABLE'];
      return reply
        .code(503)
        .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        .send(requestError('SERVICE_UNAVAILABLE', request.id));
    }
    return sendHttpError(request, reply, error);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(requestError('NOT_FOUND', request.id)));

  registerHealthRoutes(app, db, { isShuttingDown: () => drain.draining });
  registerIdeAssets(app, config.graphqlIde);
  // Public keys of the access-token signing keys, for resource servers that verify tokens themselves.
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(auth.keys.publicJwks),
  );

  const apollo = new ApolloServer<GraphQLContext<AppLoaders>>({
    // Execution: graphql-jit through Apollo's executor hook (src/graphql/executor.ts), or graphql-js.
    ...(config.graphqlExecutor === 'jit' ? { gateway: jitExecutor(schema) } : { schema }),
    formatError: createFormatError({ hideSuggestions: !config.graphqlIntrospection }),
    includeStacktraceInErrorResponses: false,
    // Introspection is refused by graphql-js's own rule below, whose message names no library.
    introspection: true,
    hideSchemaDetailsFromClientErrors: !config.graphqlIntrospection,
    // Backstop of the token limit checked on the text before Apollo (src/http/graphql-route.ts).
    parseOptions: { maxTokens: config.queryLimits.maxTokens },
    validationRules: [
      ...documentLimitRules(config.queryLimits),
      ...(config.graphqlIntrospection ? [] : [NoSchemaIntrospectionCustomRule]),
      // Control characters in string arguments: literals here, variables in inputHygienePlugin.
      inputHygieneRule,
    ],
    // Compact JSON: Apollo's default indents every response, which costs time and bytes on the wire.
    stringifyResult: (result) => JSON.stringify(result),
    csrfPrevention: true,
    // Trusted documents: hash-only requests find their document in the list, and nothing registers.
    persistedQueries: documents ? { cache: documents } : false,
    // main.ts owns SIGINT/SIGTERM (drain, then stop Apollo in onClose). Apollo's own handlers
    // would stop it concurrently and re-raise the signal, killing the process mid-drain.
    stopOnTerminationSignals: false,
    plugins: [
      // Apollo's default cache-control plugin implements willResolveField, which makes Apollo wrap
      // every resolver of the schema; nothing here uses cache hints, and the response plugin sets
      // the Cache-Control header it used to set (no-store).
      ApolloServerPluginCacheControlDisabled(),
      inputHygienePlugin(),
      responsePlugin(),
      costPlugin({ maxCost: config.queryLimits.maxCost, limiter: costLimiter }),
      observabilityPlugin(),
      idePlugin(config.graphqlIde),
      ...(responseCache ? [responseCache.plugin()] : []),
    ],
  });
  await apollo.start();

  registerGraphQLRoute(app, {
    apollo,
    limits: config.queryLimits,
    knownDirectives: new Set(schema.getDirectives().map((directive) => directive.name)),
    ...(trusted ? { trusted } : {}),
    ...(responseCache ? { cache: responseCache } : {}),
  });
  // main.ts calls app.close() once the drain has closed the listener and every
  // connection has ended; then Apollo stops. Apollo's Fastify drain plugin is
  // not used: it calls app.close() from apollo.stop(), which deadlocks when the
  // shutdown starts from app.close().
  app.addHook('onClose', async () => {
    await apollo.stop();
    await responseCache?.close();
    if (!options.auth) await auth.close();
    if (redis) await closeRedisClient(redis);
  });

  return app;
}
