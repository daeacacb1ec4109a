import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { requestError } from '../errors/errors.js';
import { operationRouteOf } from '../http/operation-route.js';
import { createContext, type EffectTarget, type GraphQLContext } from '../graphql/context.js';
import { withPoolShare } from '../db/pool-share.js';
import { SqlStatsPlugin } from '../observability/request-stats.js';
import type { TransportEffect } from '../scope/effects.js';
import { buildScope, withViewer, type RequestMeta, type ScopeDeps, type ScopeLogger } from '../scope/scope.js';
import type { AppLoaders } from '../modules/registry.js';
import { AuthenticationError, authenticate } from './authenticate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Built and authenticated by the preHandler below; Apollo's context function returns it. */
    graphqlContext: GraphQLContext<AppLoaders> | undefined;
  }
}

const COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

/** What a scope knows of the HTTP request. */
function requestMeta(request: FastifyRequest): RequestMeta {
  return {
    id: request.id,
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
    origin: request.headers.origin ?? null,
    cookies: request.cookies,
  };
}

/** Applies service effects to this request's response. */
function effectTarget(reply: FastifyReply): EffectTarget {
  return {
    apply(effect: TransportEffect) {
      switch (effect.kind) {
        case 'setCookie':
          reply.setCookie(effect.name, effect.value, { ...COOKIE_OPTIONS, maxAge: effect.maxAgeSeconds });
          return;
        case 'clearCookie':
          reply.clearCookie(effect.name, COOKIE_OPTIONS);
          return;
      }
    },
  };
}

/**
 * Authenticates the requests that run a GraphQL operation (/graphql and the
 * REST routes, src/http/operation-route.ts) before GraphQL runs: builds the request's
 * scope, resolves its viewer and wraps both in the GraphQL context. Bad
 * credentials are answered here with 401 and `WWW-Authenticate`; they are
 * never treated as anonymous.
 */
export async function registerAuthentication(app: FastifyInstance, deps: ScopeDeps<AppLoaders>): Promise<void> {
  await app.register(fastifyCookie);
  app.decorateRequest('graphqlContext');
  // Fastify's logger is pino; the scope adds the request id (and later the user id) itself.
  const rootLog = app.log as ScopeLogger;
  app.addHook('preHandler', async (request, reply) => {
    if (operationRouteOf(request) === undefined) return;
    // The request's share of the pool; the SQL plugin counts its statements for its log line.
    const anonymous = buildScope({ deps, request: requestMeta(request), log: rootLog, db: withPoolShare(deps.db, request.poolShare, [new SqlStatsPlugin(request.stats)]) });
    let viewer;
    try {
      viewer = await authenticate(anonymous, request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      request.log.info({ reason: error.description }, 'rejected credentials');
      request.stats.errorCodes = ['UNAUTHENTICATED'];
      const description = error.description.replace(/"/g, "'");
      return reply
        .code(401)
        .header('www-authenticate', `Bearer realm="marketplace-api", error="invalid_token", error_description="${description}"`)
        .header('cache-control', 'no-store')
        .send(requestError('UNAUTHENTICATED', request.id, error.description));
    }
    const scope = withViewer(anonymous, viewer);
    request.graphqlContext = createContext(scope, request.stats, effectTarget(reply));
    // The request's own log line (onResponse) carries the user id too.
    request.log = scope.log;
  });
}
