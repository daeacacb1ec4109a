/**
 * Which database errors mean "the database is not there right now" (an
 * outage, a restart, a failover, an exhausted pool) rather than a bug. Those
 * are answered 503 SERVICE_UNAVAILABLE with Retry-After instead of 500, and
 * logged as warnings, not as unexpected errors.
 */

/** Retry-After, in seconds, for answers given while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * SQLSTATEs of a lost or refused connection: class 08 (connection exception),
 * 57P01-57P03 (terminated by an administrator, crash shutdown, cannot connect
 * now: the server is starting or stopping) and 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_SQLSTATE_CLASSES = ['08'];

/** Socket errors of Node's net module when the server is down or unreachable. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * node-postgres and pg-pool report these without a code: the connection ended
 * under a query, a client was broken, or no pool connection became free in
 * time (connectionTimeoutMillis).
 */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/**
 * What the pool (connection.ts) throws instead of the driver's or the
 * socket's own error when the database is unavailable: one class to test
 * for, with the original as `cause`. It also keeps such errors recognisable
 * where errors from Node's core modules are not `instanceof Error` (Jest's
 * module sandbox), which graphql-js would otherwise turn into a generic
 * "Unexpected error value".
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${describeDatabaseError(cause).message}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** Thrown when a request waited too long for its share of the pool (see connection.ts). */
export class PoolShareTimeoutError extends Error {
  constructor(waitedMs: number) {
    super(`timeout exceeded when trying to connect: no database connection became free for this request within ${waitedMs} ms`);
    this.name = 'PoolShareTimeoutError';
  }
}

function codeOf(error: object): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True when `error` (or its cause, or one of an AggregateError's errors) says
 * the database cannot be reached or dropped the connection.
 *
 * @example isDatabaseUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' })) // true
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  if (error instanceof DatabaseUnavailableError || error instanceof PoolShareTimeoutError) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_SOCKET_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((part) => message.includes(part))) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable((error as { cause?: unknown }).cause, depth + 1);
}

/** The error itself, or a DatabaseUnavailableError around it when it means the database is unavailable. */
export function asDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || error instanceof PoolShareTimeoutError) return error;
  return isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : error;
}

/** Code and message only: enough for a log line, without the stack of every request caught in an outage. */
export function describeDatabaseError(error: unknown): { code: string | undefined; message: string } {
  if (typeof error !== 'object' || error === null) return { code: undefined, message: String(error) };
  const message = (error as { message?: unknown }).message;
  return { code: codeOf(error), message: typeof message === 'string' ? message : 'unknown error' };
}

/**
 * A unique constraint refused the row (SQLSTATE 23505): the value is taken,
 * by this transaction's own earlier write or a concurrent one.
 *
 * @example isUniqueViolation(Object.assign(new Error('duplicate key'), { code: '23505' })) // true
 */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/** A foreign key refused the write (SQLSTATE 23503): the row it names is gone, or another row still names this one. */
export function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23503';
}
