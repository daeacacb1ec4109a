import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode } from 'graphql';

import { DATABASE_RETRY_AFTER_SECONDS, isRetryableDatabaseError, logRetryableDatabaseError } from '../db/faults.js';
import { errorCodes, isErrorCode } from '../errors/codes.js';
import { AppError, appError } from '../errors/errors.js';
import { originalError } from '../errors/format.js';
import type { GraphQLContext } from './context.js';

/**
 * Shapes every GraphQL response the same way:
 * - `extensions.requestId` on the response and on each error;
 * - the HTTP status from the error registry when no data was produced (no
 *   `data`, or every root field null); a response with data is 200, as
 *   GraphQL over HTTP says;
 * - 503 with Retry-After when the database was unavailable or could not
 *   finish a statement in time (statement or lock timeout): always for a
 *   query (a partial answer would pass for missing data), for a mutation only
 *   without data (with data, its write may have committed: retrying blindly
 *   could apply it twice);
 * - unexpected errors logged in full with the request id (the client only
 *   sees the masked message from `formatError`);
 * - `Cache-Control: private, no-store` for a signed-in caller, `no-store`
 *   otherwise (unless a header was already set);
 * - the operation name and error codes recorded for the request's log line;
 * - a subscription operation refused with SUBSCRIPTION_NOT_SUPPORTED.
 */
export function responsePlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operationName, operation }) {
          contextValue.stats.operationName = operationName ?? undefined;
          // Subscriptions run over WebSocket and Server-Sent Events (src/subscriptions/); over plain HTTP
          // they are the client's mistake, refused with a code that names both transports.
          if (operation?.operation === OperationTypeNode.SUBSCRIPTION) throw appError('SUBSCRIPTION_NOT_SUPPORTED');
        },
        async didEncounterErrors({ contextValue, errors }) {
          for (const error of errors) {
            const original = originalError(error);
            if (original instanceof AppError && original.code !== 'INTERNAL_SERVER_ERROR') continue;
            if (isRetryableDatabaseError(original)) {
              logRetryableDatabaseError(contextValue.log, original, { path: error.path });
              continue;
            }
            if (!error.path && isErrorCode(error.extensions['code'])) continue; // parse / validation / coercion
            contextValue.log.error({ err: original, path: error.path }, 'unexpected error while executing operation');
          }
        },
        async willSendResponse({ contextValue, response, operation }) {
          const { requestId, stats } = contextValue;
          // Responses for a signed-in caller are personal: never stored by shared caches. Others are
          // not stored either (Apollo's cache-control plugin, which said so before, is disabled: its
          // per-field hook wrapped every resolver). A header already set by someone else is kept.
          if (contextValue.viewer) response.http.headers.set('cache-control', 'private, no-store');
          else if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, requestId };
          if (!result.errors?.length) return;
          stats.errorCodes = [];
          for (const error of result.errors) {
            const code = error.extensions?.['code'];
            stats.errorCodes.push(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
            Object.assign(error, { extensions: { ...error.extensions, requestId } });
          }
          // A refusal that says when to come back (RATE_LIMITED) tells HTTP clients too.
          const retryAfter = result.errors.map((error) => error.extensions?.['retryAfterSeconds']).find((value) => typeof value === 'number');
          if (retryAfter !== undefined) response.http.headers.set('retry-after', String(retryAfter));
          const first = stats.errorCodes[0];
          // No data: none at all, or every root field null (a nullable root field that failed or was denied).
          const noData = result.data == null || Object.values(result.data).every((value) => value === null);
          if (noData && first !== undefined && isErrorCode(first)) {
            response.http.status = errorCodes[first].status;
            if (first === 'UNAUTHENTICATED') response.http.headers.set('www-authenticate', 'Bearer realm="marketplace-api"');
          }
          if (stats.errorCodes.includes('SERVICE_UNAVAILABLE')) {
            response.http.headers.set('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
            if (noData || operation?.operation !== OperationTypeNode.MUTATION) response.http.status = errorCodes.SERVICE_UNAVAILABLE.status;
          }
        },
      };
    },
  };
}
