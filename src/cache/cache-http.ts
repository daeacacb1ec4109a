/**
 * How the shared response cache reads an HTTP request and writes HTTP
 * caching headers (src/cache/response-cache.ts decides what is stored and
 * when it is dropped): which requests may share an answer, the parts of the
 * GraphQL request that decide the answer, `Vary` and weak `ETag`s. These
 * follow the transport (GraphQL over HTTP, Apollo's CSRF prevention, RFC 9110
 * validators), not the cache's policy.
 */
import { createHash } from 'node:crypto';

import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';

import { MEDIA_TYPES } from '../http/media-type.js';
import { operationRouteOf } from '../http/operation-route.js';
import { REFRESH_COOKIE } from '../modules/accounts/credentials.js';

export const SHA256_HEX = /^[0-9a-f]{64}$/;
const CSRF_SIMPLE_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const MEDIA_TYPE_CANDIDATES = [MEDIA_TYPES.json, MEDIA_TYPES.graphqlResponseJson];
/** Request headers a shared cache must key a stored answer by, besides the URL. */
export const VARY = ['Accept', 'Authorization'];

export function sha256(text: string, encoding: 'hex' | 'base64url'): string {
  return createHash('sha256').update(text, 'utf8').digest(encoding);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function persistedHash(extensions: unknown): string | undefined {
  if (!isRecord(extensions)) return undefined;
  const persisted = extensions['persistedQuery'];
  return isRecord(persisted) && typeof persisted['sha256Hash'] === 'string' ? persisted['sha256Hash'] : undefined;
}

/**
 * The parts of the GraphQL request that decide its answer (already checked by the route's preValidation).
 * A REST route's request is in its body whatever the method (src/rest/).
 */
export function operationOf(request: FastifyRequest): { query: string | undefined; hash: string | undefined; operationName: string | null; variables: string } | undefined {
  if (request.method === 'GET' && operationRouteOf(request) !== 'rest') {
    const params = isRecord(request.query) ? request.query : {};
    let extensions: unknown;
    if (typeof params['extensions'] === 'string' && params['extensions'] !== '') {
      try {
        extensions = JSON.parse(params['extensions']);
      } catch {
        return undefined;
      }
    }
    return {
      query: typeof params['query'] === 'string' && params['query'] !== '' ? params['query'] : undefined,
      hash: persistedHash(extensions),
      operationName: typeof params['operationName'] === 'string' ? params['operationName'] : null,
      variables: typeof params['variables'] === 'string' ? params['variables'] : '',
    };
  }
  if ((request.method !== 'POST' && operationRouteOf(request) !== 'rest') || !isRecord(request.body)) return undefined;
  const { query, variables, operationName, extensions } = request.body;
  return {
    query: typeof query === 'string' && query !== '' ? query : undefined,
    hash: persistedHash(extensions),
    operationName: typeof operationName === 'string' ? operationName : null,
    variables: isRecord(variables) ? JSON.stringify(variables) : '',
  };
}

/**
 * Apollo's CSRF prevention, as it judges a request: a simple request needs a non-empty preflight header.
 * A REST route hands Apollo a JSON request of its own making, which always passes.
 */
export function passesCsrfPrevention(request: FastifyRequest): boolean {
  if (operationRouteOf(request) === 'rest') return true;
  const contentType = request.headers['content-type'];
  if (contentType !== undefined) {
    const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    if (essence !== '' && !CSRF_SIMPLE_TYPES.has(essence)) return true;
  }
  return ['x-apollo-operation-name', 'apollo-require-preflight'].some((name) => {
    const value = request.headers[name];
    return typeof value === 'string' && value.length > 0;
  });
}

/**
 * The `Accept` the GraphQL answer is negotiated with: the client's at /graphql; for a REST route, the
 * media type it asks Apollo for (its client gets the REST answer, whatever it accepts).
 */
export function acceptOf(request: FastifyRequest): string | undefined {
  return operationRouteOf(request) === 'rest' ? MEDIA_TYPES.graphqlResponseJson : request.headers.accept;
}

/** Whether the request carries any credential or anything else that makes its answer its own. */
export function isShareable(request: FastifyRequest): boolean {
  if (request.headers.authorization !== undefined) return false;
  if (request.headers['idempotency-key'] !== undefined) return false;
  return request.cookies[REFRESH_COOKIE] === undefined;
}

/** Adds `names` to the response's `Vary` (CORS may have put `Origin` there already). */
export function addVary(reply: FastifyReply, names: readonly string[]): void {
  const current = reply.getHeader('vary');
  const listed = (Array.isArray(current) ? current.join(',') : typeof current === 'string' ? current : '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const known = new Set(listed.map((name) => name.toLowerCase()));
  const merged = [...listed, ...names.filter((name) => !known.has(name.toLowerCase()))];
  void reply.header('vary', merged.join(', '));
}

export function weakEtag(data: string): string {
  return `W/"${sha256(data, 'base64url')}"`;
}

/** True when `If-None-Match` lists `etag` (weak comparison) or is `*`. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = etag.slice(2);
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || tag === opaque;
  });
}

/** The media type Apollo would answer an `Accept` header with, or null when it would refuse it (406); remembers the last 100 headers. */
export function mediaTypeChooser(): (accept: string | undefined) => string | null {
  const chosen = new Map<string, string | null>();
  return (accept) => {
    if (accept === undefined || accept === '') return MEDIA_TYPES.json;
    let mediaType = chosen.get(accept);
    if (mediaType === undefined) {
      mediaType = new Negotiator({ headers: { accept } }).mediaType(MEDIA_TYPE_CANDIDATES) ?? null;
      if (chosen.size >= 100) chosen.clear();
      chosen.set(accept, mediaType);
    }
    return mediaType;
  };
}
