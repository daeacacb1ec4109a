import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

import { isRetryableDatabaseError } from '../db/faults.js';
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
  'PERSISTED_QUERY_NOT_FOUND',
  'BAD_REQUEST',
]);

/**
 * An AppError raised outside any field: by a validation rule of ours (the
 * query limits; Apollo relabels every validation error
 * GRAPHQL_VALIDATION_FAILED, keeping ours as the original error) or by a
 * plugin before execution (query cost, rate limit). Field errors carry a
 * path and are unwrapped by `isExposedError`.
 */
function appErrorBeforeExecution(formatted: GraphQLFormattedError, error: unknown): AppError | undefined {
  if (formatted.path !== undefined || !(error instanceof GraphQLError)) return undefined;
  return error.originalError instanceof AppError && error.originalError.code !== 'INTERNAL_SERVER_ERROR' ? error.originalError : undefined;
}

/** Strips graphql-js's `Did you mean "x"?` hints, which reveal schema names. */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '');
}

/**
 * What the error really is: the error a resolver threw, or the AppError a
 * validation rule or a plugin raised before execution (wrapped by Apollo).
 */
export function originalError(error: unknown): unknown {
  const unwrapped = unwrapResolverError(error);
  if (unwrapped instanceof GraphQLError && unwrapped.originalError instanceof AppError) return unwrapped.originalError;
  return unwrapped;
}

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

export interface FormatErrorOptions {
  /** Remove "Did you mean ...?" hints from every message (production: no schema hints anywhere). */
  hideSuggestions: boolean;
}

/** Messages graphql-js writes for syntax errors; anything else from the parser is an engine failure. */
const SYNTAX_ERROR = /^Syntax Error: /;

/**
 * Apollo `formatError`: keeps client-facing errors, answers a database that
 * cannot be reached or could not finish a statement in time (statement or
 * lock timeout, see src/db/faults.ts) with SERVICE_UNAVAILABLE, and replaces everything else
 * (database, library and programming errors) with a generic message. The
 * original is logged with the request id by the response plugin.
 */
export function createFormatError({ hideSuggestions }: FormatErrorOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => formatError(formatted, error, hideSuggestions);
}

export function formatError(formatted: GraphQLFormattedError, error: unknown, hideSuggestions = false): GraphQLFormattedError {
  const limit = appErrorBeforeExecution(formatted, error);
  if (limit) {
    const { code: _code, ...details } = limit.extensions;
    return {
      message: limit.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { ...details, code: limit.code },
    };
  }
  if (isExposedError(formatted, error)) {
    // Apollo's own `stacktrace` and `exception` keys never reach clients.
    const { stacktrace: _stack, exception: _exception, ...extensions } = formatted.extensions ?? {};
    let { message } = formatted;
    // The parser failing other than on syntax (e.g. the engine's stack) is not the client's to read.
    if (extensions['code'] === 'GRAPHQL_PARSE_FAILED' && !SYNTAX_ERROR.test(message)) message = errorCodes.GRAPHQL_PARSE_FAILED.message;
    if (hideSuggestions) message = withoutSuggestions(message);
    return { ...formatted, message, extensions };
  }
  const code: ErrorCode = isRetryableDatabaseError(originalError(error)) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
  return {
    message: errorCodes[code].message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code },
  };
}
