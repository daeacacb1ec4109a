/**
 * The request pipeline of the HTTP server, in one place: every hook, handler
 * and route the edge registers, in the order it registers them. Fastify runs
 * hooks of one kind (onRequest, preHandler, onSend, onResponse) in the order
 * they were added, so this order is the order a request meets them; hooks
 * of different kinds run in Fastify's lifecycle order (onRequest, then
 * preValidation, preHandler, the handler, onSend, onResponse), and each
 * stage below names the kinds it adds.
 *
 * src/app.ts builds what the stages need (the auth runtime, the schema, the
 * response cache, Apollo) and calls `registerPipeline` once; nothing else
 * adds hooks to the root instance.
 */
import { randomUUID } from 'node:crypto';

import type { ApolloServer } from '@apollo/server';
import fastifyCors from '@fastify/cors';
import { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Kysely } from 'kysely';

import { registerAuthentication } from '../auth/http.js';
import type { AuthRuntime } from '../auth/runtime.js';
import type { ResponseCache } from '../cache/response-cache.js';
import type { Config } from '../config/config.js';
import { poolOf } from '../db/connection.js';
import { PoolShare } from '../db/pool-share.js';
import type { Database } from '../db/database.js';
import { DATABASE_RETRY_AFTER_SECONDS, isRetryableDatabaseError, logRetryableDatabaseError } from '../db/faults.js';
import { ReadRoute, runWithReadRoute } from '../db/read-route.js';
import { replicasOf } from '../db/replicas.js';
import { requestError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { ideCsp, registerIdeAssets } from '../graphql/ide.js';
import { registerHealthRoutes } from '../health/health.routes.js';
import { registerIdempotency, type IdempotencyOptions } from '../idempotency/idempotency.http.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import type { TrustedDocuments } from '../limits/trusted-documents.js';
import { registerDrain } from '../lifecycle/drain.js';
import { createLoaders, eventSinks, type AppLoaders } from '../modules/registry.js';
import type { ScopeDeps } from '../scope/scope.js';
import type { TransitionStates } from '../transitions/phases.js';
import { registerHttpObservability } from '../observability/http-observability.js';
import { RequestStats } from '../observability/request-stats.js';
import type { LiveUpdates } from '../subscriptions/setup.js';
import { registerGraphQLRoute } from './graphql-route.js';
import { registerSecurityHeaders, sendHttpError } from './hardening.js';
import { registerMediaTypeNegotiation } from './media-type.js';
import { registerPaymentWebhookRoute } from './payment-webhook.js';
import { loadRestRoutes, REST_VERSION } from '../rest/documents.js';
import { buildOpenApi } from '../rest/openapi.js';
import { registerReference } from '../rest/reference.js';
import { registerRestRoutes } from '../rest/rest.http.js';

/** What the stages need, built by src/app.ts. */
export interface PipelineParts {
  config: Config;
  db: Kysely<Database>;
  auth: AuthRuntime;
  /** The executable schema (with permissions unless authorization is off). */
  schema: GraphQLSchema;
  apollo: ApolloServer<GraphQLContext<AppLoaders>>;
  idempotency: IdempotencyOptions;
  trusted: TrustedDocuments | undefined;
  responseCache: ResponseCache | undefined;
  /** The per-IP budget of POST /webhooks/payments (PAYMENT_WEBHOOK_LIMIT_PER_IP a minute). */
  paymentWebhookLimiter: CostLimiter;
  /** Subscriptions over WebSocket and SSE (src/subscriptions/), and the change feed that reaches every instance. */
  live: LiveUpdates | undefined;
  /** The phases of the schema changes made in phases, as this instance reads them (src/transitions/watcher.ts). */
  transitions: TransitionStates;
}

/** One step of the pipeline: its name (as docs/ARCHITECTURE.md lists it) and what it registers. */
interface Stage {
  name: string;
  register: (app: FastifyInstance, parts: PipelineParts) => void | Promise<void>;
}

/** An incoming X-Request-Id is kept only if it is short and plain; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The request id's half that lives in Fastify's constructor: where the id comes from, and its label in log lines. */
export function requestIdServerOptions(): Pick<FastifyServerOptions, 'logController' | 'requestIdHeader' | 'genReqId'> {
  return {
    // Fastify's own per-request lines are replaced by the one line of the `request log line` stage.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  };
}

/** The stages, in registration order. */
export const PIPELINE: readonly Stage[] = [
  {
    // onRequest: the request's statistics, and its id echoed to the client.
    name: 'request id',
    register: (app) => {
      app.decorateRequest('stats');
      app.addHook('onRequest', async (request, reply) => {
        request.stats = new RequestStats();
        reply.header('x-request-id', request.id);
      });
    },
  },
  {
    // onRequest: before anything else that does work; once the drain delay is over, new requests are refused here.
    name: 'drain',
    register: (app) => {
      app.decorate('drain', registerDrain(app));
    },
  },
  {
    // onRequest: the request's scope holds at most this many pool connections at once (its handle takes a
    // slot per checkout: src/db/pool-share.ts); with read replicas, its reads go where its operation decides
    // (src/db/replicas.ts), the primary until then.
    name: 'pool share',
    register: (app, { config, db }) => {
      app.decorateRequest('poolShare');
      const share = () => new PoolShare(config.databasePoolMaxPerRequest, config.databaseConnectTimeoutMs);
      if (replicasOf(db) === undefined) {
        app.addHook('onRequest', (request, _reply, done) => {
          request.poolShare = share();
          done();
        });
        return;
      }
      app.addHook('onRequest', (request, _reply, done) => {
        request.poolShare = share();
        runWithReadRoute(new ReadRoute(), done);
      });
    },
  },
  {
    // Tracing (a span per request, trace ids in its log lines), request metrics and GET /metrics.
    name: 'observability',
    register: (app, { config, db }) => registerHttpObservability(app, { config, pool: poolOf(db) }),
  },
  {
    name: 'security headers',
    register: (app, { config }) => registerSecurityHeaders(app, ideCsp(config.graphqlIde)),
  },
  {
    name: 'media type',
    register: (app) => registerMediaTypeNegotiation(app),
  },
  {
    // Only listed origins; credentials so that the refresh cookie can travel on refreshSession/logOut.
    name: 'CORS',
    register: async (app, { config }) => {
      if (config.corsOrigins.length === 0) return;
      await app.register(fastifyCors, {
        origin: config.corsOrigins,
        credentials: true,
        // PATCH and DELETE: REST routes (src/rest/).
        methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
        allowedHeaders: config.corsAllowedHeaders,
        exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate', 'ratelimit', 'ratelimit-policy', 'idempotent-replayed', 'etag', 'link', 'location'],
        maxAge: 600,
      });
    },
  },
  {
    // The viewer of the request, and the change feed its units of work report to (the response cache, live updates).
    name: 'authentication',
    // The same dependencies serve the in-process job worker's scopes (app.scopeDeps, src/main.ts).
    register: (app, { config, db, auth, responseCache, live, transitions }) => {
      const changes = live?.changes ?? responseCache;
      const deps: ScopeDeps<AppLoaders> = { db, auth, createLoaders, eventSinks, transitions, webhooks: config.webhooks, ...(changes ? { changes } : {}) };
      app.decorate('scopeDeps', deps);
      return registerAuthentication(app, deps);
    },
  },
  {
    // After authentication: keys are scoped to the caller.
    name: 'idempotency',
    register: (app, { db, idempotency }) => registerIdempotency(app, db, idempotency),
  },
  {
    // onResponse: one line per request: what ran, how long, how it ended, what it cost the database.
    name: 'request log line',
    register: (app) => {
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
    },
  },
  {
    // Transport-level failures (bad JSON, oversized body, unsupported media type) get the same
    // error shape as GraphQL errors, with their own codes; so do unknown routes.
    name: 'error handlers',
    register: (app) => {
      app.setErrorHandler((error: FastifyError, request, reply) => {
        // The database went away while a hook (authentication) needed it.
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
    },
  },
  {
    // Health probes, the IDE's assets, and the public keys of the access-token signing keys
    // (for resource servers that verify tokens themselves).
    name: 'other routes',
    register: (app, { config, db, auth }) => {
      const replicas = replicasOf(db);
      registerHealthRoutes(app, db, { isShuttingDown: () => app.drain.draining, ...(replicas ? { replicas: () => replicas.states() } : {}) });
      registerIdeAssets(app, config.graphqlIde);
      app.get('/.well-known/jwks.json', async (_request, reply) =>
        reply.header('cache-control', 'public, max-age=300').send(auth.keys.publicJwks),
      );
    },
  },
  {
    // The payment provider's signed webhook: its own raw-body parser and body limit, a per-IP
    // budget (onRequest), the Standard Webhooks signature; no authentication, CSRF or Idempotency-Key.
    name: 'payment webhook',
    // Its scopes take the request's dependencies (the authentication stage's), so a payment's
    // order moves reach the webhooks' event sink and live updates like any other.
    register: (app, { config, paymentWebhookLimiter }) =>
      registerPaymentWebhookRoute(app, { secret: config.payments.webhookSecret, limiter: paymentWebhookLimiter, deps: app.scopeDeps }),
  },
  {
    // WebSocket upgrades (@fastify/websocket; GET /graphql takes its handler below), the cap of live
    // connections per IP (onRequest), POST /graphql/stream (Server-Sent Events), the 1001 at shutdown.
    name: 'live updates',
    register: async (app, { schema, live }) => {
      await live?.register(app, new Set(schema.getDirectives().map((directive) => directive.name)));
    },
  },
  {
    // preValidation: the query limits (size, tokens, directives, trusted documents), then the
    // response cache, then Apollo (whose plugins apply the cost limit).
    name: 'GraphQL route',
    register: (app, { config, schema, apollo, trusted, responseCache, live }) =>
      registerGraphQLRoute(app, {
        apollo,
        ...(live?.wsHandler ? { wsHandler: live.wsHandler } : {}),
        limits: config.queryLimits,
        knownDirectives: new Set(schema.getDirectives().map((directive) => directive.name)),
        ...(trusted ? { trusted } : {}),
        ...(responseCache ? { cache: responseCache } : {}),
      }),
  },
  {
    // The REST routes of /v1 (src/rest/): each runs a GraphQL document through the stages above (its
    // preValidation builds the GraphQL request, then authentication, idempotency, Apollo and the response
    // cache as for /graphql), its OpenAPI document, and the reference page.
    name: 'REST routes',
    register: (app, { config, schema, apollo, trusted, responseCache }) => {
      if (!config.rest.enabled) return;
      const routes = loadRestRoutes(schema, REST_VERSION);
      registerRestRoutes(app, {
        apollo,
        routes,
        openapi: buildOpenApi(schema, routes, REST_VERSION),
        prefix: `/${REST_VERSION}`,
        limits: { maxBytes: config.queryLimits.maxBytes, maxTokens: config.queryLimits.maxTokens, knownDirectives: new Set(schema.getDirectives().map((d) => d.name)) },
        ...(trusted ? { trusted } : {}),
        ...(responseCache ? { cache: responseCache } : {}),
      });
      if (config.rest.reference) registerReference(app, `/${REST_VERSION}`);
    },
  },
];

/** Registers every stage of PIPELINE on `app`, in order. */
export async function registerPipeline(app: FastifyInstance, parts: PipelineParts): Promise<void> {
  for (const stage of PIPELINE) await stage.register(app, parts);
}
