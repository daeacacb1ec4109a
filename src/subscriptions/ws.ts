/**
 * GraphQL over WebSocket (`graphql-transport-ws`, graphql-ws) on GET /graphql:
 * the upgrade request goes through Fastify's hooks like any request (request
 * id, drain, the Authorization header's authentication, CORS), then this
 * handler speaks the protocol.
 *
 * Credentials: `connectionParams.authorization` (`Bearer <access token or API
 * key>`) at connection_init, else the upgrade request's Authorization header;
 * cookies (the refresh cookie) are never read. A credential refused at
 * connection_init closes the socket with 4401; an access token closes it with
 * 4401 when it expires (the client reconnects with a fresh token).
 */
import type { WebSocket } from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { makeHandler } from 'graphql-ws/use/@fastify/websocket';

import { AppError } from '../errors/errors.js';
import type { RequestMeta } from '../scope/scope.js';
import { CLOSE_CODES, credentialExpiry, type LiveConnections, type OpenConnection } from './connections.js';
import { liveMetrics } from './metrics.js';
import type { LiveOperations, LiveStream } from './operations.js';

export interface WebSocketOptions {
  operations: LiveOperations;
  connections: LiveConnections;
  keepAliveMs: number;
  connectionInitTimeoutMs: number;
  /** Unsent bytes (ws `bufferedAmount`) after which the socket is closed with 4413. */
  maxBufferedBytes: number;
}

type ConnectionParams = Record<string, unknown> | undefined;

/** The credential sent at connection_init: `authorization` (any case), as `Bearer <token>`. */
export function credentialOf(params: ConnectionParams): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === 'authorization' && typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

function metaOf(request: FastifyRequest): RequestMeta {
  // No cookies: a live connection never authenticates with the refresh cookie.
  return { id: request.id, ip: request.ip, userAgent: request.headers['user-agent'] ?? null, origin: request.headers.origin ?? null, cookies: {} };
}

/**
 * Bounds what a client that stopped reading costs: every message graphql-ws
 * sends goes through `socket.send`; once the bytes not yet taken by the
 * operating system (`bufferedAmount`) pass `maxBytes`, `onExceeded` runs once.
 * Later sends are dropped by graphql-ws itself (the socket is no longer open).
 */
function boundUnsentBytes(socket: WebSocket, maxBytes: number, onExceeded: () => void): void {
  const send = socket.send.bind(socket) as (data: string, callback?: (error?: Error) => void) => void;
  let exceeded = false;
  const bounded = (data: string, callback?: (error?: Error) => void): void => {
    send(data, callback);
    if (exceeded || socket.bufferedAmount <= maxBytes) return;
    exceeded = true;
    onExceeded();
  };
  Object.assign(socket, { send: bounded });
}

/** The `wsHandler` of GET /graphql. */
export function webSocketHandler({ operations, connections, keepAliveMs, connectionInitTimeoutMs, maxBufferedBytes }: WebSocketOptions) {
  const bySocket = new WeakMap<WebSocket, OpenConnection>();
  const streams = new WeakMap<object, LiveStream>();
  const timers = new WeakMap<OpenConnection, NodeJS.Timeout>();

  /** Closes the connection with 4401 when its access token expires (API keys do not). */
  const expireWith = (connection: OpenConnection) => {
    clearTimeout(timers.get(connection));
    const expiresAt = credentialExpiry(connection.authorization);
    if (expiresAt === undefined) return;
    const timer = setTimeout(() => connection.close(CLOSE_CODES.unauthorized, 'The access token expired; reconnect with a fresh one.'), Math.max(0, expiresAt - Date.now()));
    timer.unref();
    timers.set(connection, timer);
  };

  const protocol = makeHandler<ConnectionParams>(
    {
      connectionInitWaitTimeout: connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const connection = bySocket.get(ctx.extra.socket);
        if (!connection) return false;
        connection.authorization = credentialOf(ctx.connectionParams) ?? ctx.extra.request.headers.authorization;
        let viewer;
        try {
          viewer = await operations.viewerOf(connection);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          ctx.extra.socket.close(CLOSE_CODES.unauthorized, error.message.slice(0, 120));
          return false;
        }
        connection.userId = viewer?.userId ?? null;
        expireWith(connection);
        return true;
      },
      // Renewal: a `ping` whose payload carries `authorization` replaces the connection's credential
      // (same user only) and its expiry, so a client can refresh its token without reconnecting.
      onPing: async (ctx, payload) => {
        const connection = bySocket.get(ctx.extra.socket);
        const authorization = credentialOf(payload);
        if (!connection || authorization === undefined) return;
        let viewer;
        try {
          viewer = await operations.viewerOf({ ...connection, authorization });
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          connection.close(CLOSE_CODES.unauthorized, error.message.slice(0, 120));
          return;
        }
        if ((viewer?.userId ?? null) !== connection.userId) {
          connection.close(CLOSE_CODES.forbidden, 'The new credential belongs to another user.');
          return;
        }
        connection.authorization = authorization;
        expireWith(connection);
      },
      onSubscribe: async (ctx, _id, payload) => {
        const connection = bySocket.get(ctx.extra.socket);
        if (!connection) return [new GraphQLError('The connection is closing.', { extensions: { code: 'SERVICE_UNAVAILABLE' } })];
        const prepared = await operations.prepare(connection, payload);
        if (!prepared.ok) return prepared.errors.map((error) => new GraphQLError(error.message, { extensions: error.extensions ?? {} }));
        streams.set(prepared.args.contextValue as object, prepared.stream);
        return prepared.args;
      },
      subscribe: (args: ExecutionArgs) => {
        const stream = streams.get(args.contextValue as object);
        if (!stream) throw new Error('subscription stream missing');
        return stream;
      },
      // onSubscribe lets only subscriptions through.
      execute: () => ({ errors: [new GraphQLError('Only subscriptions run here.', { extensions: { code: 'SUBSCRIPTION_NOT_SUPPORTED' } })] }),
    },
    keepAliveMs,
  );

  return function handler(this: FastifyInstance, socket: WebSocket, request: FastifyRequest): void {
    const { connection, release } = connections.add('ws', metaOf(request), request.headers.authorization, (code, reason) => socket.close(code, reason));
    bySocket.set(socket, connection);
    socket.once('close', () => {
      clearTimeout(timers.get(connection));
      release();
    });
    boundUnsentBytes(socket, maxBufferedBytes, () => {
      liveMetrics.slowSockets.inc();
      request.log.info({ bufferedBytes: socket.bufferedAmount }, 'live connection closed: the client stopped reading');
      socket.close(CLOSE_CODES.slowConsumer, 'Too many unsent events: the client stopped reading.');
      // Its streams end now; the close frame waits behind the unsent data (ws cuts the socket after 30 s).
      release();
    });
    void protocol.call(this, socket, request);
    // graphql-ws reports every socket error on the console as its own failure, and @fastify/websocket
    // as an error: most are the client's (an oversized message, which ws answers with 1009; a reset).
    for (const listener of socket.listeners('error')) socket.removeListener('error', listener as (error: Error) => void);
    socket.on('error', (error: Error & { code?: string }) => {
      request.log.info({ code: error.code, reason: error.message }, 'live connection error');
      if (!error.code?.startsWith('WS_ERR_')) socket.terminate();
    });
  };
}
