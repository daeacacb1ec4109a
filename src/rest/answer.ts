/**
 * A GraphQL response turned into the REST answer of its route: pure, so
 * that the same stored GraphQL response (an idempotent replay, a cached
 * anonymous read) always gives the same REST answer, byte for byte.
 *
 * - Errors (a refusal, a failure, a request refused before execution):
 *   `application/problem+json` (RFC 9457) with the first error's `code`,
 *   `requestId` and its other client-safe extensions, and the status of the
 *   error catalogue, except FORBIDDEN, which is 403 here (GraphQL over HTTP
 *   keeps 200 for it).
 * - The answered value null without an error: the route's `absent` code
 *   (404 NOT_FOUND: it does not exist or the caller may not see it).
 * - A mutation's non-empty `userErrors`: one problem listing them all with
 *   their codes and GraphQL `field` paths, each also located in the REST
 *   request (`parameter` or a JSON `pointer` into the body): 404 when the
 *   object named by the URL was not found, 409 for VERSION_CONFLICT and
 *   INVALID_TRANSITION, else 422.
 * - Success: the answered value (a payload without its empty `userErrors`),
 *   201 with `Location` for a route that created something; a GET gets a
 *   weak `ETag` (304 when `If-None-Match` holds it) and, for a page of a
 *   list, `Link` headers with the same cursors as GraphQL.
 */
import { STATUS_CODES } from 'node:http';

import { matchesEtag, weakEtag } from '../cache/cache-http.js';
import { errorCodes, isErrorCode } from '../errors/codes.js';
import type { RestRoute } from './documents.js';
import { escapePointer } from './variables.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** What the transport needs besides the GraphQL response. */
export interface AnswerContext {
  method: string;
  /** The request path (no query string), for `Link`. */
  path: string;
  /** The parsed query string, for `Link`. */
  query: Record<string, string | string[] | undefined>;
  ifNoneMatch: string | undefined;
  /** The request's own id (used when the body has none). */
  requestId: string;
}

export interface RestAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An RFC 9457 problem: the standard members, then `code`, `requestId` and extensions. */
export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  [extension: string]: unknown;
}

/** One user error, located in the REST request as well as in the GraphQL input. */
export interface ProblemItem {
  code: string;
  message: string;
  field: string[] | null;
  parameter?: string;
  pointer?: string;
  [detail: string]: unknown;
}

/** Members of a problem that an error's extensions may not overwrite. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId', 'errors']);

export function problem(status: number, code: string, detail: string, requestId: string, extensions: Record<string, unknown> = {}): Problem {
  const extra = Object.fromEntries(Object.entries(extensions).filter(([key]) => !RESERVED.has(key)));
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code, requestId, ...extra };
}

/** The REST status of a request-level error code. */
export function restStatus(code: string): number {
  if (code === 'FORBIDDEN') return 403;
  if (!isErrorCode(code)) return 500;
  const { status } = errorCodes[code];
  return status >= 400 ? status : 400;
}

function problemAnswer(body: Problem, headers: Record<string, string> = {}): RestAnswer {
  const extra: Record<string, string> = body.status === 401 ? { 'www-authenticate': 'Bearer realm="marketplace-api"' } : {};
  return { status: body.status, headers: { ...extra, ...headers, 'content-type': PROBLEM_TYPE }, body: JSON.stringify(body) };
}

interface GraphQLError {
  message?: unknown;
  path?: unknown;
  extensions?: Record<string, unknown>;
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: GraphQLError[];
  extensions?: Record<string, unknown>;
}

interface UserError {
  field?: string[] | null;
  code?: string;
  message?: string;
  [detail: string]: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let current = root;
  for (const key of keys) {
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isRecord(current)) current = current[key];
    else return undefined;
  }
  return current;
}

/** Where a user error's GraphQL `field` path points in the REST request. */
function locate(route: RestRoute, field: string[] | null | undefined): { parameter?: string; pointer?: string; source?: 'path' | 'query' | 'body' } {
  if (!field) return {};
  let best: RestRoute['variables'][number] | undefined;
  for (const variable of route.variables) {
    const prefix = variable.argumentPath;
    if (prefix.length <= field.length && prefix.every((key, i) => field[i] === key) && (!best || prefix.length > best.argumentPath.length)) best = variable;
  }
  if (!best) return {};
  if (best.source !== 'body') return { parameter: best.name, source: best.source };
  const rest = field.slice(best.argumentPath.length);
  return { pointer: `/${[best.name, ...rest].map(escapePointer).join('/')}`, source: 'body' };
}

const CONFLICTS = new Set(['VERSION_CONFLICT', 'INVALID_TRANSITION']);

function userErrorsAnswer(route: RestRoute, errors: UserError[], requestId: string): RestAnswer {
  const items: ProblemItem[] = errors.map(({ field, code, message, ...details }) => {
    const { source: _source, ...where } = locate(route, field);
    const kept = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== null && value !== undefined));
    return { code: String(code), message: String(message), field: field ?? null, ...where, ...kept };
  });
  const missing = errors.find((e) => e.code === 'NOT_FOUND' && locate(route, e.field).source === 'path');
  const conflict = errors.find((e) => CONFLICTS.has(String(e.code)));
  const decided = missing ?? conflict ?? errors[0];
  const status = missing ? 404 : conflict ? 409 : 422;
  return problemAnswer({ ...problem(status, String(decided?.code), String(decided?.message), requestId), errors: items });
}

/** The query string of a `Link` target: the request's parameters with the cursor ones replaced. */
function linkTarget(context: AnswerContext, drop: readonly string[], set: Record<string, string>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(context.query)) {
    if (value === undefined || drop.includes(name)) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, item);
  }
  for (const [name, value] of Object.entries(set)) search.set(name, value);
  return `<${context.path}?${search.toString()}>`;
}

function paginationLinks(route: RestRoute, value: Record<string, unknown>, context: AnswerContext): string | undefined {
  const pageInfo = value['pageInfo'];
  if (!isRecord(pageInfo)) return undefined;
  const backward = context.query['before'] !== undefined || context.query['last'] !== undefined;
  const links: string[] = [];
  if (route.pagination.forward && !backward && pageInfo['hasNextPage'] === true && typeof pageInfo['endCursor'] === 'string') {
    links.push(`${linkTarget(context, ['after', 'before', 'last'], { after: pageInfo['endCursor'] })}; rel="next"`);
  }
  if (route.pagination.backward && backward && pageInfo['hasPreviousPage'] === true && typeof pageInfo['startCursor'] === 'string') {
    const set: Record<string, string> = { before: pageInfo['startCursor'] };
    const last = context.query['last'];
    if (typeof last === 'string') set['last'] = last;
    links.push(`${linkTarget(context, ['after', 'before', 'first', 'last'], set)}; rel="prev"`);
  }
  return links.length > 0 ? links.join(', ') : undefined;
}

function locationOf(template: string, body: unknown): string | undefined {
  let missing = false;
  const location = template.replace(/\{([^}]+)\}/g, (_match, placeholder: string) => {
    const value = valueAt(body, placeholder.split('.'));
    if (typeof value !== 'string' && typeof value !== 'number') {
      missing = true;
      return '';
    }
    return encodeURIComponent(String(value));
  });
  return missing ? undefined : location;
}

/**
 * The REST answer for the GraphQL response `text` (sent with `status`) of
 * `route`. A 304 (the response cache's) passes as it is.
 */
export function restAnswer(route: RestRoute, status: number, text: string, context: AnswerContext): RestAnswer {
  if (status === 304) return { status, headers: {}, body: '' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!isRecord(json)) return problemAnswer(problem(500, 'INTERNAL_SERVER_ERROR', errorCodes.INTERNAL_SERVER_ERROR.message, context.requestId));
  const parsed = json as GraphQLBody;
  const stored = parsed.extensions?.['requestId'];
  const requestId = typeof stored === 'string' ? stored : context.requestId;

  const error = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
  if (error) {
    const { code: claimed, requestId: _id, ...extensions } = error.extensions ?? {};
    const code = typeof claimed === 'string' ? claimed : 'INTERNAL_SERVER_ERROR';
    const detail = typeof error.message === 'string' ? error.message : errorCodes.INTERNAL_SERVER_ERROR.message;
    return problemAnswer(problem(restStatus(code), code, detail, requestId, extensions));
  }

  const value = valueAt(parsed.data, route.resultPath);
  if (!isRecord(value)) {
    const code = route.absent;
    const detail = code === 'NOT_FOUND' ? 'Nothing here: it does not exist, or you may not see it.' : errorCodes.UNAUTHENTICATED.message;
    return problemAnswer(problem(restStatus(code), code, detail, requestId));
  }

  let body: Record<string, unknown> = value;
  if (route.userErrors) {
    const { userErrors, ...rest } = value;
    if (Array.isArray(userErrors) && userErrors.length > 0) return userErrorsAnswer(route, userErrors as UserError[], requestId);
    body = rest;
  }

  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  const location = route.location === undefined ? undefined : locationOf(route.location, body);
  if (location !== undefined) headers['location'] = location;
  if (context.method === 'GET') {
    // The response cache's validator: the same tag whether the answer came from the cache or not.
    const etag = weakEtag(JSON.stringify(parsed.data));
    headers['etag'] = etag;
    const links = paginationLinks(route, body, context);
    if (links !== undefined) headers['link'] = links;
    if (matchesEtag(context.ifNoneMatch, etag)) return { status: 304, headers, body: '' };
  }
  return { status: location === undefined ? 200 : 201, headers, body: JSON.stringify(body) };
}
