import { GraphQLError } from 'graphql';

import { errorCodes, type ErrorCode } from './codes.js';

/** Extra, client-safe details carried in `extensions` next to the code. */
export type ErrorDetails = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * A request-level error the client is meant to see: its message and code are
 * passed through formatting untouched. Anything else is masked.
 *
 * @example throw appError('BAD_USER_INPUT', '`first` must be at most 100.', { argument: 'first' })
 */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code].message,
    details: ErrorDetails = {},
  ) {
    super(message, { extensions: { ...details, code } });
    this.name = 'AppError';
  }
}

export function appError(code: ErrorCode, message?: string, details?: ErrorDetails): AppError {
  return new AppError(code, message, details);
}

/** Shorthand for the most common case: a bad argument, naming it. */
export function badUserInput(argument: string, message: string): AppError {
  return new AppError('BAD_USER_INPUT', message, { argument });
}

/** A request-level error in the GraphQL response shape, for answers given outside Apollo (HTTP errors, 401s). */
export function requestError(code: ErrorCode, requestId: string, message: string = errorCodes[code].message) {
  return { errors: [{ message, extensions: { code, requestId } }], extensions: { requestId } };
}
