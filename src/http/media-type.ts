/**
 * Accept negotiation for every JSON answer at /graphql, whichever layer
 * gives it: Apollo Server (which negotiates itself), and the answers given
 * before Apollo runs (the authentication hook's 401, transport refusals).
 * A client that asks for `application/graphql-response+json` (Apollo Client
 * 4, graphql-http) then reads every error the same way: as a GraphQL
 * response with `errors[].extensions.code`, whatever its HTTP status.
 */
import type { FastifyInstance } from 'fastify';
import Negotiator from 'negotiator';

/** The two media types of GraphQL over HTTP, as Apollo Server writes them. */
export const MEDIA_TYPES = {
  json: 'application/json; charset=utf-8',
  graphqlResponseJson: 'application/graphql-response+json; charset=utf-8',
} as const;

/**
 * The media type to answer with, chosen from the `Accept` header the way
 * Apollo Server chooses it (same negotiator, same candidates in the same
 * order), so both layers agree. No `Accept`, or one that names neither type:
 * `application/json`, as GraphQL over HTTP asks for legacy clients.
 *
 * @example negotiatedMediaType('application/graphql-response+json,application/json;q=0.9')
 *   // 'application/graphql-response+json; charset=utf-8'
 */
export function negotiatedMediaType(accept: string | undefined): string {
  if (!accept) return MEDIA_TYPES.json;
  const preferred = new Negotiator({ headers: { accept } }).mediaType([MEDIA_TYPES.json, MEDIA_TYPES.graphqlResponseJson]);
  return preferred === MEDIA_TYPES.graphqlResponseJson ? MEDIA_TYPES.graphqlResponseJson : MEDIA_TYPES.json;
}

/** True for the GraphQL endpoint, with or without a query string. */
function isGraphQLPath(url: string): boolean {
  const path = url.split('?', 1)[0];
  return path === '/graphql' || path === '/graphql/';
}

/**
 * Sets the negotiated media type on every JSON response of /graphql. Apollo's
 * own answers already carry it (this changes nothing there); answers sent by
 * Fastify hooks and error handlers would otherwise always be
 * `application/json`. HTML (the Sandbox page) and empty bodies are left alone.
 */
export function registerMediaTypeNegotiation(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (!isGraphQLPath(request.url)) return payload;
    const contentType = reply.getHeader('content-type');
    if (typeof contentType !== 'string' || !/^application\/(json|graphql-response\+json)\b/.test(contentType)) return payload;
    void reply.header('content-type', negotiatedMediaType(request.headers.accept));
    return payload;
  });
}
