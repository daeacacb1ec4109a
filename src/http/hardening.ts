/**
 * HTTP hardening: security headers, timeouts and coded answers for every
 * error the HTTP layer produces itself (Fastify and Node), so each carries
 * `extensions.code`, `extensions.requestId` and `X-Request-Id`, and none
 * carries library or engine text.
 */
import { randomUUID } from 'node:crypto';
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

import fastifyHelmet from '@fastify/helmet';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { errorCodes, type ErrorCode } from '../errors/codes.js';
import { requestError } from '../errors/errors.js';

/** Content-Security-Policy of API responses: they are data, never a document to render or frame. */
export const API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const APOLLO_CDN = [
  'https://apollo-server-landing-page.cdn.apollographql.com',
  'https://embeddable-sandbox.cdn.apollographql.com',
  'https://embeddable-explorer.cdn.apollographql.com',
].join(' ');

/**
 * Content-Security-Policy of Apollo Server's own landing pages, the default
 * for HTML when no IDE page sets its own (GRAPHQL_IDE=off; src/graphql/ide.ts
 * has the Sandbox and GraphiQL pages' policies): what they load from
 * Apollo's CDN (scripts, styles, the Sandbox iframe, fonts). Their inline
 * scripts and styles carry a per-page nonce that the page's own
 * `<meta http-equiv="Content-Security-Policy">` requires; this header allows
 * them by source list ('unsafe-inline' here is narrowed by that meta policy,
 * since a browser enforces both). `frame-ancestors` can only be set by a
 * header: nobody may frame the page.
 */
export const LANDING_PAGE_CSP = [
  "default-src 'none'",
  `script-src 'self' 'unsafe-inline' ${APOLLO_CDN}`,
  `style-src 'self' 'unsafe-inline' ${APOLLO_CDN} https://fonts.googleapis.com`,
  'font-src https://fonts.gstatic.com',
  "img-src 'self' data: https://apollo-server-landing-page.cdn.apollographql.com",
  'manifest-src https://apollo-server-landing-page.cdn.apollographql.com',
  'frame-src https://sandbox.embed.apollographql.com https://explorer.embed.apollographql.com',
  "connect-src 'self' https://*.apollographql.com",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface TimeoutOptions {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * Fastify/Node server options for the timeouts: headers must arrive within
 * `headersTimeoutMs` and the whole request (body included) within
 * `requestTimeoutMs`, else the client gets 408 REQUEST_TIMEOUT and the
 * connection is closed. Node checks pending requests once per
 * `connectionsCheckingInterval`, so a slow request is dropped at most one
 * interval after its deadline.
 */
export function timeoutServerOptions({ headersTimeoutMs, requestTimeoutMs }: TimeoutOptions): {
  requestTimeout: number;
  http: ServerOptions;
} {
  return {
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
    },
  };
}

/** Node's `clientError` codes (and Fastify's frameworkErrors) mapped to the registry. */
function clientErrorCode(code: string | undefined): ErrorCode {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  if (code === 'HPE_HEADER_OVERFLOW') return 'REQUEST_HEADER_FIELDS_TOO_LARGE';
  return 'BAD_REQUEST';
}

/**
 * Fastify `clientErrorHandler`: Node could not read the request (malformed
 * headers, headers too large, too slow). There is no Fastify request, so the
 * answer is written to the socket directly, with a fresh request id; then the
 * connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCode(error.code);
  const requestId = randomUUID();
  this.log.info({ requestId, code, reason: error.code }, 'refused a request Node could not read');
  if (socket.writable) {
    const body = JSON.stringify(requestError(code, requestId));
    const { status } = errorCodes[code];
    socket.write(
      `HTTP/1.1 ${status} ${code.replace(/_/g, ' ')}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Cache-Control: no-store\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}

/**
 * Fastify `frameworkErrors`: failures before routing (a malformed URL), when
 * no hook has run yet. The reply is sent here; the request id is Fastify's.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ reason: error.code }, 'refused a malformed HTTP request');
  void reply
    .code(400)
    .header('x-request-id', request.id)
    .send(requestError('BAD_REQUEST', request.id, BODY_ERROR_MESSAGES[error.code] ?? errorCodes.BAD_REQUEST.message));
}

/** Fastify's own error codes for request bodies, answered with our own words. */
const BODY_ERROR_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty; send a JSON object.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The Content-Length header does not match the body.',
  FST_ERR_CTP_BODY_TOO_LARGE: errorCodes.PAYLOAD_TOO_LARGE.message,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: errorCodes.UNSUPPORTED_MEDIA_TYPE.message,
  FST_ERR_BAD_URL: 'The request URL is malformed.',
};

function statusCode(status: number): ErrorCode {
  switch (status) {
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 408:
      return 'REQUEST_TIMEOUT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 431:
      return 'REQUEST_HEADER_FIELDS_TOO_LARGE';
    default:
      return 'BAD_REQUEST';
  }
}

/** Answers a transport-level failure in the GraphQL error shape, with a code and no library text. */
export function sendHttpError(request: FastifyRequest, reply: FastifyReply, error: FastifyError): FastifyReply {
  const status = error.statusCode ?? 500;
  void reply.header('x-request-id', request.id);
  if (status >= 500) {
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(requestError('INTERNAL_SERVER_ERROR', request.id));
  }
  const code = statusCode(status);
  const message = (error.code && BODY_ERROR_MESSAGES[error.code]) ?? (error instanceof SyntaxError ? BODY_ERROR_MESSAGES['FST_ERR_CTP_INVALID_JSON_BODY'] : undefined);
  request.log.info({ code, reason: error.code ?? error.message }, 'refused a malformed HTTP request');
  request.stats.errorCodes = [code];
  return reply.code(errorCodes[code].status).send(requestError(code, request.id, message));
}

/**
 * Security headers from helmet on every response, a strict CSP for the API,
 * and the IDE page's own CSP on HTML pages (`htmlCsp`: Apollo's landing page's by default).
 */
export async function registerSecurityHeaders(app: FastifyInstance, htmlCsp: string = LANDING_PAGE_CSP): Promise<void> {
  await app.register(fastifyHelmet, {
    // Set below per response kind: the API's and the landing page's differ.
    contentSecurityPolicy: false,
    // The API is called cross-origin by listed origins (CORS_ORIGINS); CORS decides, not CORP.
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    void reply.header('content-security-policy', html ? htmlCsp : API_CSP);
    return payload;
  });
}
