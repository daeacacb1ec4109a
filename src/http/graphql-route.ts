/**
 * The /graphql route: Apollo Server behind checks that refuse what it should
 * never see, and a pass over what it answers so every error is coded.
 *
 * Before Apollo (route `preValidation`, so before authentication and before
 * any parsing of GraphQL):
 *   - a POST must be `application/json` (415 otherwise: with GET needing a
 *     preflight header, no simple cross-site request gets through);
 *   - the parameters must have the GraphQL-over-HTTP shape: one JSON object
 *     (no batch), `query` a string, `variables` and `extensions` objects
 *     nested at most MAX_REQUEST_JSON_DEPTH deep (nothing walks them
 *     before this check), `operationName` a string, and a persisted query
 *     of version 1 whose hash matches the `query` sent with it;
 *   - the document text must be within QUERY_MAX_BYTES and QUERY_MAX_TOKENS,
 *     with at most MAX_UNKNOWN_DIRECTIVES uses of directives the schema
 *     does not define;
 *   - with trusted documents, the document must be a listed one.
 *
 * After Apollo: HTTP-level errors that Apollo answers itself (CSRF refusal,
 * GET mutation) get `extensions.code` from the registry and the request id;
 * and a client accepting only `application/json` gets 200 for parse,
 * validation and variable-coercion failures (GraphQL over HTTP).
 */
import type { ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { WebSocket } from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { ResponseCache } from '../cache/response-cache.js';
import type { QueryLimitsConfig } from '../config/config.js';
import { errorCodes, isErrorCode, type ErrorCode } from '../errors/codes.js';
import { requestError, type AppError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { AppLoaders } from '../modules/registry.js';
import { checkDocumentText, checkRequestJson } from '../limits/query-limits.js';
import { documentHash, type TrustedDocuments } from '../limits/trusted-documents.js';

export interface GraphQLRouteOptions {
  apollo: ApolloServer<GraphQLContext<AppLoaders>>;
  limits: QueryLimitsConfig;
  /** Names of the directives the schema defines; a document using too many others is refused unparsed. */
  knownDirectives: ReadonlySet<string>;
  /** Trusted-documents mode: only these documents run. */
  trusted?: TrustedDocuments;
  /** The shared cache of anonymous query responses (src/cache/), unless it is off. */
  cache?: ResponseCache;
  /** Speaks graphql-transport-ws on a GET /graphql that asks to upgrade (src/subscriptions/ws.ts). */
  wsHandler?: (this: FastifyInstance, socket: WebSocket, request: FastifyRequest) => void;
}

/** The methods /graphql serves; anything else is 405 with this list in `Allow`. */
export const GRAPHQL_METHODS = ['GET', 'POST'] as const;

/** Codes of failures before execution that GraphQL over HTTP answers with 200 to an application/json client. */
const REQUEST_ERROR_CODES = new Set<string>(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'OPERATION_RESOLUTION_FAILURE']);

/** Our words for Apollo's CSRF-prevention refusal (a GET, or a simple POST, without a preflight header). */
const CSRF_MESSAGE =
  'Refused as a possible cross-site request forgery: send a GET with the header `apollo-require-preflight: true` (any non-empty value), or POST application/json.';

/** Apollo's refusal of a mutation over GET (graphql-js operation types: mutation, subscription). */
const GET_MUTATION = /^GET requests only support query operations/;

interface GraphQLParams {
  query: string | undefined;
  persistedQueryHash: string | undefined;
}

/** A refusal of the request's parameters, before Apollo: a registry code, a message for the client, details. */
class RequestRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A GET parameter: absent, or exactly one string (a repeated parameter is refused). */
function singleParam(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new RequestRefusal('BAD_REQUEST', `Send the \`${name}\` parameter once.`);
  return value;
}

function jsonObjectParam(value: string | undefined, name: string): Record<string, unknown> | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new RequestRefusal('BAD_REQUEST', `The \`${name}\` parameter must be a JSON-encoded object.`);
  }
  if (parsed === null) return undefined;
  if (!isPlainObject(parsed)) throw new RequestRefusal('BAD_REQUEST', `The \`${name}\` parameter must be a JSON-encoded object.`);
  return parsed;
}

/** `variables` or `extensions` within the nesting limit, or a refusal (QUERY_TOO_COMPLEX) before anything recurses into them. */
function checkNesting(name: 'variables' | 'extensions', value: Record<string, unknown> | undefined): void {
  if (value === undefined) return;
  const refusal = checkRequestJson(name, value);
  if (refusal) throw new RequestRefusal(refusal.code, refusal.message, refusal.extensions);
}

/**
 * Whether a parsed value holds a `__proto__` key, or `prototype` inside a
 * `constructor` key: what Fastify's JSON parser refuses in a POST body
 * (prototype poisoning), refused in GET parameters too. Iterative; called
 * once the nesting is known to be bounded.
 */
function hasPrototypeKey(value: unknown): boolean {
  const pending: unknown[] = [value];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item === null || typeof item !== 'object') continue;
    if (Object.hasOwn(item, '__proto__')) return true;
    const constructor: unknown = Array.isArray(item) ? undefined : (item as Record<string, unknown>)['constructor'];
    if (Object.hasOwn(item, 'constructor') && constructor !== null && typeof constructor === 'object' && Object.hasOwn(constructor, 'prototype')) return true;
    const children: unknown[] = Array.isArray(item) ? item : Object.values(item);
    pending.push(...children);
  }
  return false;
}

/** A JSON-encoded GET parameter: an object, nested within the limit, without prototype keys. */
function checkedObjectParam(value: string | undefined, name: 'variables' | 'extensions'): Record<string, unknown> | undefined {
  const parsed = jsonObjectParam(value, name);
  checkNesting(name, parsed);
  if (hasPrototypeKey(parsed)) throw new RequestRefusal('BAD_REQUEST', `The \`${name}\` parameter must not contain a \`__proto__\` key or \`constructor.prototype\`.`);
  return parsed;
}

const PERSISTED_QUERY_SHAPE = '`extensions.persistedQuery` must be an object with a `sha256Hash` string and `version: 1`.';

/**
 * The hash of a persisted-query request (Apollo's APQ), checked as Apollo
 * would check it but answered here with a code: version 1 only, and a hash
 * sent together with its `query` must be that text's SHA-256 (hex).
 */
function persistedQueryHash(extensions: Record<string, unknown> | undefined, query: string | undefined): string | undefined {
  const persisted = extensions?.['persistedQuery'];
  if (persisted === undefined || persisted === null) return undefined;
  if (!isPlainObject(persisted) || typeof persisted['sha256Hash'] !== 'string') throw new RequestRefusal('BAD_REQUEST', PERSISTED_QUERY_SHAPE);
  if (persisted['version'] !== 1) throw new RequestRefusal('BAD_REQUEST', `${PERSISTED_QUERY_SHAPE} Only version 1 is supported.`);
  const hash = persisted['sha256Hash'];
  if (query !== undefined && query !== '' && hash !== documentHash(query)) {
    throw new RequestRefusal('BAD_REQUEST', '`extensions.persistedQuery.sha256Hash` is not the SHA-256 (lowercase hex) of the `query` sent with it.');
  }
  return hash;
}

function isJsonContentType(header: string | undefined): boolean {
  const mediaType = header?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/** The GraphQL parameters of a request, or a RequestRefusal saying what is wrong with them. */
function readParams(request: FastifyRequest): GraphQLParams {
  if (request.method === 'POST') {
    if (!isJsonContentType(request.headers['content-type'])) {
      throw new RequestRefusal('UNSUPPORTED_MEDIA_TYPE', errorCodes.UNSUPPORTED_MEDIA_TYPE.message);
    }
    const body: unknown = request.body;
    if (Array.isArray(body)) {
      throw new RequestRefusal('BAD_REQUEST', 'Batched operations are not supported: send one operation per request.');
    }
    if (!isPlainObject(body)) {
      throw new RequestRefusal('BAD_REQUEST', 'The body must be a JSON object with a `query` string (and optionally `variables`, `operationName`, `extensions`).');
    }
    const { query, variables, operationName, extensions } = body;
    if (query !== undefined && query !== null && typeof query !== 'string') {
      throw new RequestRefusal('BAD_REQUEST', '`query` must be a string holding the GraphQL document.');
    }
    if (variables !== undefined && variables !== null && !isPlainObject(variables)) {
      throw new RequestRefusal('BAD_REQUEST', '`variables` must be a JSON object mapping variable names to values.');
    }
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
      throw new RequestRefusal('BAD_REQUEST', '`operationName` must be a string.');
    }
    if (extensions !== undefined && extensions !== null && !isPlainObject(extensions)) {
      throw new RequestRefusal('BAD_REQUEST', '`extensions` must be a JSON object.');
    }
    checkNesting('variables', variables ?? undefined);
    checkNesting('extensions', extensions ?? undefined);
    const hash = persistedQueryHash(extensions ?? undefined, query ?? undefined);
    if ((query === undefined || query === null || query === '') && hash === undefined) {
      throw new RequestRefusal('BAD_REQUEST', 'The body has no `query`: send the GraphQL document in `query`.');
    }
    return { query: query ?? undefined, persistedQueryHash: hash };
  }
  const params = isPlainObject(request.query) ? request.query : {};
  const query = singleParam(params['query'], 'query');
  checkedObjectParam(singleParam(params['variables'], 'variables'), 'variables');
  singleParam(params['operationName'], 'operationName');
  const extensions = checkedObjectParam(singleParam(params['extensions'], 'extensions'), 'extensions');
  const hash = persistedQueryHash(extensions, query);
  return { query: query === '' ? undefined : query, persistedQueryHash: hash };
}

function checkRequest(request: FastifyRequest, { limits, knownDirectives, trusted }: GraphQLRouteOptions): RequestRefusal | AppError | null {
  let params: GraphQLParams;
  try {
    params = readParams(request);
  } catch (error) {
    if (error instanceof RequestRefusal) return error;
    throw error;
  }
  // A GET without a query is the landing page (or Apollo's own answer to an empty request).
  if (params.query === undefined && params.persistedQueryHash === undefined) return null;
  if (params.query !== undefined) {
    const tooBig = checkDocumentText(params.query, { ...limits, knownDirectives });
    if (tooBig) return tooBig;
  }
  if (trusted) {
    const hash = params.query !== undefined ? documentHash(params.query) : params.persistedQueryHash;
    if (hash === undefined || !trusted.has(hash)) {
      return new RequestRefusal('DOCUMENT_NOT_TRUSTED', errorCodes.DOCUMENT_NOT_TRUSTED.message);
    }
  }
  return null;
}

function sendRefusal(request: FastifyRequest, reply: FastifyReply, refusal: RequestRefusal | AppError): FastifyReply {
  const code = refusal instanceof RequestRefusal ? refusal.code : refusal.code;
  const details = refusal instanceof RequestRefusal ? refusal.details : refusal.extensions;
  request.stats.errorCodes = [code];
  request.log.info({ code, reason: refusal.message }, 'refused GraphQL request before execution');
  const body = requestError(code, request.id, refusal.message);
  const [first] = body.errors;
  if (first) first.extensions = { ...details, code, requestId: request.id };
  return reply.code(errorCodes[code].status).header('cache-control', 'no-store').send(body);
}

interface ResponseError {
  message?: unknown;
  path?: unknown;
  extensions?: Record<string, unknown>;
}

interface ResponseBody {
  data?: unknown;
  errors?: ResponseError[];
  extensions?: Record<string, unknown>;
}

/**
 * Gives Apollo's own HTTP-level answers (they skip the response plugin) a
 * registry code and the request id, and applies the application/json status
 * rule. Returns the body to send.
 */
function normaliseResponse(request: FastifyRequest, reply: FastifyReply, body: string): string {
  const contentType = String(reply.getHeader('content-type') ?? '');
  // Only a body with errors may need changes: the common answer is not parsed again. (Inside a JSON
  // string a quote is escaped, so `"errors"` occurs only as a key or as a whole string value.)
  if (!/json/.test(contentType) || !body.includes('"errors"')) return body;
  let parsed: ResponseBody;
  try {
    parsed = JSON.parse(body) as ResponseBody;
  } catch {
    return body;
  }
  if (!Array.isArray(parsed.errors) || parsed.errors.length === 0) return body;

  let changed = false;
  // Apollo refuses a mutation sent with GET before any plugin can; its answer passes through the response plugin as BAD_REQUEST.
  if (request.method === 'GET' && parsed.errors.some((e) => typeof e.message === 'string' && GET_MUTATION.test(e.message))) {
    void reply.code(405).header('allow', 'POST');
    parsed.errors = [{ message: 'Only queries may be sent with GET; send mutations with POST.', extensions: { code: 'METHOD_NOT_ALLOWED', requestId: request.id } }];
    parsed.extensions = { ...parsed.extensions, requestId: request.id };
    request.stats.errorCodes = ['METHOD_NOT_ALLOWED'];
    return JSON.stringify(parsed);
  }
  if (parsed.extensions?.['requestId'] === undefined) {
    // Answered by Apollo's HTTP layer, not by the GraphQL pipeline (e.g. CSRF prevention).
    for (const error of parsed.errors) {
      const claimed = error.extensions?.['code'];
      const code: ErrorCode = isErrorCode(claimed) ? claimed : 'BAD_REQUEST';
      let message = error.message;
      if (typeof message === 'string' && /Cross-Site Request Forgery/.test(message)) message = CSRF_MESSAGE;
      Object.assign(error, { message, extensions: { ...error.extensions, code, requestId: request.id } });
    }
    parsed.extensions = { ...parsed.extensions, requestId: request.id };
    request.stats.errorCodes = parsed.errors.map((e) => String(e.extensions?.['code']));
    changed = true;
  }

  // GraphQL over HTTP: application/json responses use 200 for request errors
  // (parse, validation, variable coercion); 4xx stays for graphql-response+json.
  if (
    contentType.startsWith('application/json') &&
    reply.statusCode === 400 &&
    parsed.data === undefined &&
    parsed.errors.every((e) => REQUEST_ERROR_CODES.has(String(e.extensions?.['code'])) && e.path === undefined)
  ) {
    void reply.code(200);
  }
  return changed ? JSON.stringify(parsed) : body;
}

/** Registers GET and POST /graphql (Apollo) and 405 for every other method there. */
export function registerGraphQLRoute(app: FastifyInstance, options: GraphQLRouteOptions): void {
  const handler = fastifyApolloHandler<GraphQLContext<AppLoaders>>(options.apollo, {
    context: async (request) => {
      if (!request.graphqlContext) throw new Error('GraphQL context missing: the authentication hook did not run');
      return request.graphqlContext;
    },
  });

  const route = {
    url: '/graphql',
    config: { graphqlOperation: 'graphql' as const },
    preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
      const refusal = checkRequest(request, options);
      if (refusal) return sendRefusal(request, reply, refusal);
      // A stored anonymous response: answered before authentication, Apollo and the database.
      if (options.cache && (await options.cache.serve(request, reply))) return reply;
      return undefined;
    },
    handler: async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      // The integration types its handler for a route whose reply is a string; this route also answers refusals.
      type HandlerArgs = Parameters<typeof handler>;
      options.cache?.prepare(request);
      const body: unknown = await handler.call(this, request as HandlerArgs[0], reply as HandlerArgs[1]);
      if (typeof body !== 'string') return body;
      const normalised = normaliseResponse(request, reply, body);
      return options.cache ? options.cache.complete(request, reply, normalised) : normalised;
    },
  };
  // GET separately: with live updates on, a GET that asks to upgrade becomes a WebSocket (src/subscriptions/ws.ts).
  app.route({ method: 'GET', ...route, ...(options.wsHandler ? { wsHandler: options.wsHandler } : {}) });
  app.route({ method: 'POST', ...route });

  app.route({
    method: ['PUT', 'PATCH', 'DELETE'],
    url: '/graphql',
    handler: async (request, reply) => {
      request.stats.errorCodes = ['METHOD_NOT_ALLOWED'];
      return reply.code(405).header('allow', GRAPHQL_METHODS.join(', ')).send(requestError('METHOD_NOT_ALLOWED', request.id));
    },
  });
}
