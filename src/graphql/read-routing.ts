import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode } from 'graphql';

import type { WriterMarks } from '../db/read-your-writes.js';
import { currentReadRoute } from '../db/read-route.js';
import type { ReadReplicas } from '../db/replicas.js';
import type { GraphQLContext } from './context.js';

/**
 * With read replicas (READ_DATABASE_URL): once the operation is known,
 * decides where the request's reads go (src/db/replicas.ts). Until then
 * (authentication) they went to the primary.
 *
 * - A mutation reads the primary, and marks its caller, as they were and as
 *   they are after it (a `logIn` or `signUp` acts as the new user), as a
 *   recent writer when it answers.
 * - A query of a recent writer reads the primary (read-your-writes).
 * - Any other query reads one usable replica (or the primary when none is),
 *   and gets fresh loaders built on it, so that nothing it reads comes from
 *   two places (authentication's rows were read on the primary).
 */
export function readRoutingPlugin(replicas: ReadReplicas, marks: WriterMarks): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      let writers: string[] | undefined;
      return {
        async didResolveOperation({ contextValue, operation }) {
          const route = currentReadRoute();
          if (route === undefined || operation === undefined) return;
          const viewerId = contextValue.viewer?.userId;
          // Over HTTP a subscription is refused (the response plugin): its reads, if any, stay on the primary.
          if (operation.operation === OperationTypeNode.SUBSCRIPTION) return;
          if (operation.operation === OperationTypeNode.MUTATION) {
            route.toPrimary('mutation');
            writers = viewerId === undefined ? [] : [viewerId];
            return;
          }
          if (viewerId !== undefined && (await marks.recentlyWrote(viewerId))) {
            route.toPrimary('recent_write');
            return;
          }
          replicas.route(route);
          if (route.slot !== 0) contextValue.loaders = contextValue.deps.createLoaders(contextValue.db);
        },
        async willSendResponse({ contextValue }) {
          if (writers === undefined) return;
          const after = contextValue.viewer?.userId;
          await marks.wrote(after === undefined ? writers : [...writers, after]);
        },
      };
    },
  };
}
