/**
 * The HTTP side of observability: a server span per request (continuing an
 * incoming W3C `traceparent`) and the context that puts its trace and span
 * ids on every log line of the request, the request metrics, and `GET /metrics` (on the API port
 * behind a bearer token, or on a port of its own).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Config } from '../config/config.js';
import { requestError } from '../errors/errors.js';
import { operationRouteOf } from '../http/operation-route.js';
import { observeHttpRequest, observePool, registry, type PoolCounts } from './metrics.js';
import { tracer, withSpanHolder } from './tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span and the context it runs in (a no-op span when tracing is off). */
    otel: { span: Span; context: Context } | undefined;
  }
  interface FastifyInstance {
    /** The separate /metrics listener when METRICS_PORT is set. */
    metricsServer: Server | undefined;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time check of `Authorization: Bearer <token>`. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
}

export interface ObservabilityOptions {
  config: Pick<Config, 'metrics'>;
  /** The database pool, for the pool gauges. */
  pool: PoolCounts | undefined;
}

export async function registerHttpObservability(app: FastifyInstance, { config, pool }: ObservabilityOptions): Promise<void> {
  app.decorateRequest('otel');
  app.decorate('metricsServer', undefined);

  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer().startSpan(
      request.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?')[0] ?? '/' },
      },
      parent,
    );
    const ctx = withSpanHolder(trace.setSpan(parent, span), { span: undefined });
    request.otel = { span, context: ctx };
    // Log lines get the trace and span ids from this context (traceLogFields in logger.ts).
    context.with(ctx, done);
  });
  // The body is read in stream callbacks that run outside the request's
  // context; from here on (hooks, handler, GraphQL, SQL) it is entered again.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.otel) context.with(request.otel.context, done);
    else done();
  });
  app.addHook('onError', async (request, _reply, error) => {
    request.otel?.span.recordException(error);
  });
  app.addHook('onRequestAbort', async (request) => {
    endSpan(request, 499);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    endSpan(request, reply.statusCode);
    observeHttpRequest({
      method: request.method,
      route,
      statusCode: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
      errorCodes: request.stats.errorCodes,
      sqlStatements: operationRouteOf(request) !== undefined && request.method !== 'OPTIONS' ? request.stats.sqlCount : undefined,
    });
  });

  if (pool) {
    const forget = observePool(pool);
    app.addHook('onClose', async () => forget());
  }
  registerMetricsEndpoint(app, config.metrics);
}

function endSpan(request: FastifyRequest, statusCode: number): void {
  const otel = request.otel;
  if (!otel) return;
  request.otel = undefined;
  const route = request.routeOptions.url;
  if (route) {
    otel.span.updateName(`${request.method} ${route}`);
    otel.span.setAttribute('http.route', route);
  }
  otel.span.setAttribute('http.response.status_code', statusCode);
  if (statusCode >= 500) otel.span.setStatus({ code: SpanStatusCode.ERROR });
  otel.span.end();
}

function registerMetricsEndpoint(app: FastifyInstance, metrics: Config['metrics']): void {
  const expected = metrics.token === undefined ? undefined : digest(metrics.token);
  const authorised = (header: string | undefined) => expected === undefined || bearerMatches(header, expected);

  if (metrics.port === undefined) {
    if (expected === undefined) return; // neither a token nor a port: not served
    app.get('/metrics', async (request, reply) => {
      if (!authorised(request.headers.authorization)) {
        request.stats.errorCodes = ['UNAUTHENTICATED'];
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send(requestError('UNAUTHENTICATED', request.id, 'Scraping /metrics needs Authorization: Bearer <METRICS_TOKEN>.'));
      }
      return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(await registry.metrics());
    });
    return;
  }

  const server = createMetricsListener(metrics, app.log);
  app.metricsServer = server;
  // Listening starts with the app (a busy port fails app.listen()) and stops with it.
  app.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(metrics.port, metrics.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    app.log.info({ host: address.address, port: address.port }, 'metrics listener ready');
  });
  app.addHook('onClose', async () => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/**
 * The separate /metrics listener (METRICS_PORT), typically reachable only
 * from the monitoring network; not listening yet. The API's app starts it
 * with itself; the worker process (src/worker.ts) on its own.
 */
export function createMetricsListener(metrics: Config['metrics'], log: { error(bindings: object, message: string): void }): Server {
  const expected = metrics.token === undefined ? undefined : digest(metrics.token);
  const authorised = (header: string | undefined) => expected === undefined || bearerMatches(header, expected);
  return createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    if (!authorised(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' }).end('Unauthorized\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
      (error: unknown) => {
        log.error({ err: error }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Collecting metrics failed\n');
      },
    );
  });
}
