import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

import { AppError } from './errors.js';
import { errorCodes, isErrorCode, type ErrorCode } from './codes.js';

/**
 * Codes produced by graphql-js or Apollo Server itself before execution
 * (parse, validation, variable coercion). Their messages are written for
 * clients and carry no internals, so they pass through.
 */
const PIPELINE_CODES = new Set<ErrorCode>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'BAD_REQUEST',
]);

/** True when the error is one the client may see as-is; everything else is masked. */
export function isExposedError(formatted: GraphQLFormattedError, error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return original.code !== 'INTERNAL_SERVER_ERROR';
  const code = formatted.extensions?.['code'];
  // A resolver that threw something other than an AppError is a bug or an
  // infrastructure failure, whatever code it claims.
  const fromResolver = formatted.path !== undefined;
  return !fromResolver && isErrorCode(code) && PIPELINE_CODES.has(code);
}

/**
 * Apollo `formatError`: keeps client-facing errors and replaces everything
 * else (database, library and programming errors) with a generic message.
 * The original is logged with the request id by the observability plugin.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  if (isExposedError(formatted, error)) {
    // Apollo's own `stacktrace` and `exception` keys never reach clients.
    const { stacktrace: _stack, exception: _exception, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return {
    message: errorCodes.INTERNAL_SERVER_ERROR.message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
