/**
 * GraphQL over Server-Sent Events (graphql-sse, distinct connections mode) at
 * POST /graphql/stream with `Accept: text/event-stream`: one subscription per
 * request, its events streamed in the response, for clients behind proxies
 * that break WebSockets. The credential is the request's Authorization header
 * (never a cookie). A refused subscription is answered with a JSON error and
 * its status (401, 404, 429, ...); no stream opens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { OperationArgs, Response as SseResponse } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fastify';

import { requestError } from '../errors/errors.js';
import type { LiveConnections, OpenConnection } from './connections.js';
import type { LiveOperations, LiveStream } from './operations.js';

export const SSE_PATH = '/graphql/stream';

export interface SseOptions {
  operations: LiveOperations;
  connections: LiveConnections;
}

export function registerSseRoute(app: FastifyInstance, { operations, connections }: SseOptions): void {
  const byRequest = new WeakMap<FastifyRequest, OpenConnection>();
  const streams = new WeakMap<object, LiveStream>();
  type Context = Record<PropertyKey, unknown>;
  const handler = createHandler<Context>({
    onSubscribe: async (req, params): Promise<SseResponse | OperationArgs<Context>> => {
      const connection = byRequest.get(req.raw);
      if (!connection) return [JSON.stringify(requestError('SERVICE_UNAVAILABLE', req.raw.id)), { status: 503, statusText: 'Service Unavailable' }];
      const prepared = await operations.prepare(connection, params);
      if (!prepared.ok) {
        const body = { errors: prepared.errors.map((error) => ({ ...error, extensions: { ...error.extensions, requestId: req.raw.id } })), extensions: { requestId: req.raw.id } };
        return [JSON.stringify(body), { status: prepared.status, statusText: 'Refused', headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } }];
      }
      streams.set(prepared.args.contextValue as object, prepared.stream);
      return prepared.args as OperationArgs<Context>;
    },
    subscribe: (args: ExecutionArgs) => {
      const stream = streams.get(args.contextValue as object);
      if (!stream) throw new Error('subscription stream missing');
      return stream;
    },
    execute: () => ({ errors: [new GraphQLError('Only subscriptions run here.', { extensions: { code: 'SUBSCRIPTION_NOT_SUPPORTED' } })] }),
  });

  app.post(SSE_PATH, async (request, reply) => {
    const accept = request.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      request.stats.errorCodes = ['BAD_REQUEST'];
      return reply.code(406).send(requestError('BAD_REQUEST', request.id, 'Ask for the stream with `Accept: text/event-stream`.'));
    }
    if (!connections.mayOpen(request.ip)) {
      request.stats.errorCodes = ['SUBSCRIPTION_LIMIT_REACHED'];
      return reply.code(429).send(requestError('SUBSCRIPTION_LIMIT_REACHED', request.id, 'Too many live connections from this address.'));
    }
    const meta = { id: request.id, ip: request.ip, userAgent: request.headers['user-agent'] ?? null, origin: request.headers.origin ?? null, cookies: {} };
    const { connection, release } = connections.add('sse', meta, request.headers.authorization, () => reply.raw.end());
    byRequest.set(request, connection);
    reply.raw.once('close', release);
    reply.hijack();
    try {
      await handler(request, reply);
    } finally {
      release();
    }
  });

  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE'],
    url: SSE_PATH,
    handler: async (request, reply) => {
      request.stats.errorCodes = ['METHOD_NOT_ALLOWED'];
      return reply.code(405).header('allow', 'POST').send(requestError('METHOD_NOT_ALLOWED', request.id, 'Open a stream with POST and `Accept: text/event-stream`.'));
    },
  });
}
