import { errorCodes, type ErrorCode } from './codes.js';

/** Extra, client-safe details carried in `extensions` next to the code. */
export type ErrorDetails = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * A domain error the client is meant to see, with a code from the registry:
 * its message, code and details are passed through formatting untouched.
 * Anything else is masked. It is a plain Error, so services, workers and
 * scripts use it without GraphQL; graphql-js copies `extensions` from the
 * error a resolver throws, which is how the GraphQL edge carries it.
 *
 * @example throw appError('BAD_USER_INPUT', '`first` must be at most 100.', { argument: 'first' })
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code].message,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** `{ ...details, code }`: what a client sees next to the message. */
  get extensions(): Record<string, unknown> {
    return { ...this.details, code: this.code };
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
