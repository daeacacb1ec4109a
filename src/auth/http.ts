import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';

import { requestError } from '../errors/errors.js';
import type { Database } from '../db/database.js';
import { createContext, type GraphQLContext, type RequestInfo } from '../graphql/context.js';
import { AuthenticationError, authenticate } from './authenticate.js';
import type { AuthRuntime } from './runtime.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Built and authenticated by the preHandler below; Apollo's context function returns it. */
    graphqlContext: GraphQLContext | undefined;
  }
}

/** What services may see of, and do to, the HTTP exchange. */
function requestInfo(request: FastifyRequest, reply: FastifyReply): RequestInfo {
  return {
    id: request.id,
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
    origin: request.headers.origin ?? null,
    cookie: (name) => request.cookies[name],
    setCookie: (name, value, { maxAgeSeconds }) => {
      reply.setCookie(name, value, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: maxAgeSeconds });
    },
    clearCookie: (name) => {
      reply.clearCookie(name, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
    },
    setHeader: (name, value) => {
      reply.header(name, value);
    },
  };
}

/**
 * Authenticates /graphql requests before GraphQL runs: builds the request's
 * context and resolves its viewer. Bad credentials are answered here with
 * 401 and `WWW-Authenticate`; they are never treated as anonymous.
 */
export async function registerAuthentication(app: FastifyInstance, deps: { db: Kysely<Database>; auth: AuthRuntime }): Promise<void> {
  await app.register(fastifyCookie);
  app.decorateRequest('graphqlContext');
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== '/graphql') return;
    const context = createContext({ db: deps.db, log: request.log, request: requestInfo(request, reply), stats: request.stats, auth: deps.auth });
    try {
      context.viewer = await authenticate(context, request.headers.authorization);
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
    request.graphqlContext = context;
    if (context.viewer) request.log = request.log.child({ userId: context.viewer.userId, via: context.viewer.via });
  });
}
