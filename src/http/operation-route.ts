/**
 * Which routes run a GraphQL operation, so that the hooks every operation
 * passes through (authentication, idempotency keys, the response cache,
 * SQL statistics) know them by the route's own declaration instead of by
 * its URL: `/graphql` itself, and each REST route (src/rest/), whose
 * `preValidation` puts the GraphQL request it stands for in `request.body`.
 */
import type { FastifyRequest } from 'fastify';

export type OperationRoute = 'graphql' | 'rest';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that run a GraphQL operation (see src/http/operation-route.ts). */
    graphqlOperation?: OperationRoute;
  }
}

/** `graphql` for /graphql, `rest` for a REST route, undefined for every other route. */
export function operationRouteOf(request: FastifyRequest): OperationRoute | undefined {
  return request.routeOptions.config.graphqlOperation;
}
