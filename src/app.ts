import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Kysely } from 'kysely';

import { createAuthRuntime, type AuthRuntime } from './auth/runtime.js';
import { permissions } from './authz/permissions.js';
import { applyPermissions } from './authz/shield.js';
import { createResponseCache } from './cache/setup.js';
import { collectCacheTags } from './cache/tag-collection.js';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import { createWriterMarks } from './db/read-your-writes.js';
import { replicasOf } from './db/replicas.js';
import { createFormatError } from './errors/format.js';
import type { GraphQLContext } from './graphql/context.js';
import { jitExecutor } from './graphql/executor.js';
import { idePlugin } from './graphql/ide.js';
import { readRoutingPlugin } from './graphql/read-routing.js';
import { inputHygienePlugin, inputHygieneRule } from './graphql/input-hygiene.js';
import { responsePlugin } from './graphql/response-plugin.js';
import { buildSchema } from './graphql/schema.js';
import { clientErrorHandler, frameworkErrors, timeoutServerOptions } from './http/hardening.js';
import { registerPipeline, requestIdServerOptions } from './http/pipeline.js';
import { createResponseSealer } from './idempotency/sealed-response.js';
import { watchQueueDepth } from './jobs/depth.js';
import type { Drain } from './lifecycle/drain.js';
import { costPlugin } from './limits/cost.plugin.js';
import { createCostLimiter } from './limits/cost-limiter.js';
import { PAYMENT_WEBHOOK_WINDOW_SECONDS } from './http/payment-webhook.js';
import { createPersistedQueryStore, persistedQueryKey } from './limits/persisted-query-store.js';
import { documentLimitRules } from './limits/query-limits.js';
import { loadTrustedDocuments } from './limits/trusted-documents.js';
import { transitionDefinitions, type AppLoaders } from './modules/registry.js';
import { observabilityPlugin } from './observability/graphql-observability.js';
import type { Logger } from './observability/logger.js';
import type { PoolShare } from './db/pool-share.js';
import type { RequestStats } from './observability/request-stats.js';
import { LiveUpdates } from './subscriptions/setup.js';
import { closeRedisClient, createRedisClient, logRedisAvailability } from './redis/client.js';
import type { ScopeDeps } from './scope/scope.js';
import { watchTransitions } from './transitions/watcher.js';

declare module 'fastify' {
  interface FastifyRequest {
    stats: RequestStats;
    /** How many pool connections this request's work may hold at once; its scope's handle takes from it (src/db/pool-share.ts). */
    poolShare: PoolShare;
  }
  interface FastifyInstance {
    /** Graceful shutdown of the HTTP side: drain delay, then refuse new requests and let running ones finish (src/lifecycle/drain.ts). */
    drain: Drain;
    /** What the request scopes are built with; the in-process job worker builds its scopes with them too. */
    scopeDeps: ScopeDeps<AppLoaders>;
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
  // The permission layer, and its rules asked before a keyed mutation runs or replays (src/idempotency).
  const permitted = options.authorization === false ? undefined : applyPermissions(buildSchema(), permissions);
  const schema = permitted?.schema ?? buildSchema();
  // The shared cache of anonymous query responses hears every committed change (src/cache/).
  // With read replicas (src/db/replicas.ts): queries read a replica, except a recent writer's.
  const replicas = replicasOf(db);
  const writerMarks = replicas
    ? createWriterMarks({ windowMs: replicas.maxLagMs, ...(redis ? { redis } : {}), onRedisError: (error) => logger.debug({ err: error }, 'read-your-writes marks: Redis did not answer') })
    : undefined;
  const responseCache = createResponseCache({
    config: config.responseCache,
    redis,
    limiter: costLimiter,
    schema,
    hashOnlyDocuments: trusted !== undefined || config.persistedQueries,
    log: logger,
    ...(replicas ? { freshness: replicas } : {}),
  });
  if (responseCache) collectCacheTags(schema);
  // Which shape the schema changes made in phases read and write here (src/transitions/): read now, then every TRANSITION_REFRESH_MS.
  const transitions = await watchTransitions(db, transitionDefinitions, { refreshMs: config.transitionRefreshMs, log: logger });
  // Subscriptions (src/subscriptions/): committed changes reach every instance over LISTEN/NOTIFY.
  const live = new LiveUpdates({
    config,
    db,
    // LISTEN needs a session of its own: behind a transaction pooler, a direct connection.
    ...(config.databasePooler === 'transaction' && config.databaseDirectUrl ? { listenUrl: config.databaseDirectUrl } : {}),
    auth,
    schema,
    authorizeOperation: permitted?.authorizeOperation,
    log: logger,
    feeds: responseCache ? [responseCache] : [],
    ...(trusted ? { trusted } : {}),
    limiter: costLimiter,
    transitions,
  });

  const apollo = new ApolloServer<GraphQLContext<AppLoaders>>({
    // Execution: graphql-jit through Apollo's `gateway` option, its only executor seam (src/graphql/executor.ts), or graphql-js.
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
      ...(replicas && writerMarks ? [readRoutingPlugin(replicas, writerMarks)] : []),
      costPlugin({ maxCost: config.queryLimits.maxCost, limiter: costLimiter }),
      observabilityPlugin(),
      idePlugin(config.graphqlIde),
      ...(responseCache ? [responseCache.plugin()] : []),
    ],
  });
  await apollo.start();

  const app = Fastify({
    loggerInstance,
    ...requestIdServerOptions(),
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

  // The request pipeline, stage by stage in order: src/http/pipeline.ts.
  await registerPipeline(app, {
    config,
    db,
    auth,
    schema,
    apollo,
    trusted,
    responseCache,
    paymentWebhookLimiter: createCostLimiter({
      budget: config.payments.webhookLimitPerIp,
      windowSeconds: PAYMENT_WEBHOOK_WINDOW_SECONDS,
      keyPrefix: 'payment-webhook',
      ...(redis ? { redis } : {}),
    }),
    live,
    transitions,
    idempotency: {
      ...(permitted ? { authorizeOperation: permitted.authorizeOperation } : {}),
      sealer: createResponseSealer(auth.keys),
      // A keyed mutation sent by hash alone is fingerprinted (and refused without a key) like one sent in full.
      documentByHash: async (hash) => (documents ? await documents.get(persistedQueryKey(hash)) : undefined),
    },
  });
  // main.ts calls app.close() once the drain has closed the listener and every
  // connection has ended; then Apollo stops. Apollo's Fastify drain plugin is
  // not used: it calls app.close() from apollo.stop(), which deadlocks when the
  // shutdown starts from app.close().
  // /metrics reads the job queue's depth from the database at each scrape (any instance: the queue is shared).
  const unwatchQueue = watchQueueDepth(db);
  app.addHook('onClose', async () => {
    unwatchQueue();
    transitions.close();
    await apollo.stop();
    await responseCache?.close();
    if (!options.auth) await auth.close();
    if (redis) await closeRedisClient(redis);
    // Last: the connection that hears other instances' changes.
    await live.close();
  });

  return app;
}
