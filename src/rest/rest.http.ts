/**
 * The REST routes at the HTTP edge. Each route stands for one GraphQL
 * operation (src/rest/documents.ts) and runs it through the same path as
 * `/graphql`:
 *
 *   preValidation  the route's variables from the path, query string or
 *                  body (400 problem otherwise); the document's text limits
 *                  and the trusted-documents list, as /graphql checks them;
 *                  then `request.body` becomes the GraphQL request, and an
 *                  anonymous GET may be answered by the shared response cache
 *   preHandler     authentication and the idempotency edge (they know the
 *                  route by its `graphqlOperation` config, not its URL)
 *   handler        Apollo Server, with every plugin (shield, cost budget,
 *                  response plugin, response cache), as a JSON POST
 *   onSend         the edge's hooks first (the idempotency edge stores the
 *                  GraphQL response), then this route's: the GraphQL
 *                  response becomes the REST answer (src/rest/answer.ts)
 *
 * So a replayed or cached answer is turned into the REST answer the same
 * way as a fresh one. Answers given here before GraphQL are already
 * `application/problem+json` and pass the last step as they are.
 */
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { ResponseCache } from '../cache/response-cache.js';
import { errorCodes, type ErrorCode } from '../errors/codes.js';
import type { GraphQLContext } from '../graphql/context.js';
import { MEDIA_TYPES } from '../http/media-type.js';
import { checkDocumentText, type DocumentTextLimits } from '../limits/query-limits.js';
import type { TrustedDocuments } from '../limits/trusted-documents.js';
import type { AppLoaders } from '../modules/registry.js';
import { PROBLEM_TYPE, problem, restAnswer, restStatus, type ProblemItem } from './answer.js';
import { REST_METHODS, type RestRoute } from './documents.js';
import type { OpenApiDocument } from './openapi.js';
import { restVariables, type InputProblem } from './variables.js';

export interface RestRoutesOptions {
  apollo: ApolloServer<GraphQLContext<AppLoaders>>;
  routes: readonly RestRoute[];
  openapi: OpenApiDocument;
  /** The version's prefix, `/v1`. */
  prefix: string;
  limits: DocumentTextLimits;
  trusted?: TrustedDocuments;
  cache?: ResponseCache;
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, status: number, code: string, detail: string, errors?: ProblemItem[]): FastifyReply {
  request.stats.errorCodes = [code];
  const body = { ...problem(status, code, detail, request.id), ...(errors ? { errors } : {}) };
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="marketplace-api"');
  return reply.code(status).header('content-type', PROBLEM_TYPE).header('cache-control', 'no-store').send(JSON.stringify(body));
}

function inputItems(problems: InputProblem[]): ProblemItem[] {
  return problems.map((p) => ({ code: 'BAD_REQUEST', message: p.message, field: null, ...(p.parameter === undefined ? {} : { parameter: p.parameter }), ...(p.pointer === undefined ? {} : { pointer: p.pointer }) }));
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/** The request headers Apollo sees: a JSON POST asking for GraphQL's own media type (statuses from the error catalogue). */
function apolloHeaders(): HeaderMap {
  const headers = new HeaderMap();
  headers.set('content-type', 'application/json');
  headers.set('accept', MEDIA_TYPES.graphqlResponseJson);
  return headers;
}

function registerRoute(app: FastifyInstance, route: RestRoute, options: RestRoutesOptions): void {
  const { apollo, cache, trusted } = options;
  // The document is the server's own, so its text limits are known once; they still apply as configured.
  const tooBig = checkDocumentText(route.text, options.limits);

  app.route({
    method: route.method,
    url: route.routerPath,
    config: { graphqlOperation: 'rest' },
    preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.body !== undefined && !isJson(request.headers['content-type'])) {
        return sendProblem(request, reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
      }
      const result = restVariables(route, {
        params: request.params as Record<string, string>,
        query: request.query as Record<string, string | string[] | undefined>,
        body: request.body ?? undefined,
      });
      if (!result.ok) {
        return sendProblem(request, reply, errorCodes[result.code].status, result.code, result.problems.length === 1 ? (result.problems[0]?.message ?? '') : 'The request has problems: see `errors`.', inputItems(result.problems));
      }
      if (tooBig) return sendProblem(request, reply, restStatus(tooBig.code), tooBig.code, tooBig.message);
      if (trusted && !trusted.has(route.hash)) {
        const code: ErrorCode = 'DOCUMENT_NOT_TRUSTED';
        return sendProblem(request, reply, restStatus(code), code, `${errorCodes[code].message} This route's document (${route.file}) is not in TRUSTED_DOCUMENTS_FILE.`);
      }
      request.body = { query: route.text, operationName: route.operationName, variables: result.variables };
      if (cache && route.method === 'GET' && (await cache.serve(request, reply))) return reply;
      return undefined;
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const context = request.graphqlContext;
      if (!context) throw new Error('GraphQL context missing: the authentication hook did not run');
      if (route.method === 'GET') cache?.prepare(request);
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers: apolloHeaders(), search: '', body: request.body },
        context: async () => context,
      });
      for (const [name, value] of response.headers) void reply.header(name, value);
      void reply.code(response.status ?? 200);
      // REST documents hold no @defer or @stream: the answer is always complete.
      if (response.body.kind !== 'complete') throw new Error('incremental delivery is not served over REST');
      const body = response.body.string;
      return cache && route.method === 'GET' ? cache.complete(request, reply, body) : body;
    },
    // After the edge's onSend hooks (this one is the route's own, so it runs last).
    onSend: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const contentType = String(reply.getHeader('content-type') ?? '');
      if (contentType.startsWith('application/problem+json')) return payload;
      if (reply.statusCode !== 304 && !/^application\/(json|graphql-response\+json)\b/.test(contentType)) return payload;
      const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
      const answer = restAnswer(route, reply.statusCode, text, {
        method: request.method,
        path: request.url.split('?', 1)[0] ?? route.path,
        query: request.query as Record<string, string | string[] | undefined>,
        ifNoneMatch: request.headers['if-none-match'],
        requestId: request.id,
      });
      if (answer.status >= 400) {
        request.stats.errorCodes = [(JSON.parse(answer.body) as { code: string }).code];
        // An error answer is never validated or shared, whatever the GraphQL answer's headers said.
        void reply.removeHeader('etag');
        if (!String(reply.getHeader('cache-control') ?? '').includes('no-store')) void reply.header('cache-control', 'no-store');
      }
      for (const [name, value] of Object.entries(answer.headers)) void reply.header(name, value);
      void reply.code(answer.status);
      return answer.body;
    },
  });
}

/** Every REST route of a version, its 405s and 404s, and its OpenAPI document. */
export function registerRestRoutes(app: FastifyInstance, options: RestRoutesOptions): void {
  for (const route of options.routes) registerRoute(app, route, options);

  // Other methods on a route's path: 405 with the methods it has.
  const methodsByPath = new Map<string, string[]>();
  for (const route of options.routes) methodsByPath.set(route.routerPath, [...(methodsByPath.get(route.routerPath) ?? []), route.method]);
  for (const [url, methods] of methodsByPath) {
    const allowed = methods.includes('GET') ? [...methods, 'HEAD'] : methods;
    const others = REST_METHODS.filter((method) => !methods.includes(method));
    if (others.length === 0) continue;
    app.route({
      method: [...others],
      url,
      handler: async (request, reply) =>
        sendProblem(request, reply.header('allow', allowed.join(', ')), 405, 'METHOD_NOT_ALLOWED', `This path answers ${allowed.join(', ')}.`),
    });
  }

  const openapi = JSON.stringify(options.openapi);
  app.get(`${options.prefix}/openapi.json`, async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'public, max-age=300').send(openapi),
  );

  // Unknown paths under the prefix: a problem, like every REST answer.
  void app.register(
    async (scope) => {
      scope.setNotFoundHandler((request, reply) => sendProblem(request, reply, 404, 'NOT_FOUND', `No such route. The routes are listed in ${options.prefix}/openapi.json.`));
    },
    { prefix: options.prefix },
  );
}
