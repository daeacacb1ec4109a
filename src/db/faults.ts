import type { BaseLogger } from 'pino';

/**
 * Which database errors are not bugs but conditions a client should retry:
 * "the database is not there right now" (an outage, a restart, a failover,
 * an exhausted pool) and "the database could not finish this statement now"
 * (a statement or lock timeout, a serialization failure or deadlock that
 * outlived the unit of work's own reruns). Both are answered 503
 * SERVICE_UNAVAILABLE with Retry-After instead of 500, and never logged as
 * unexpected errors.
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

/**
 * SQLSTATEs of a statement the database refused to finish now, while the
 * connection stays usable: 57014 query_canceled (statement_timeout, or a
 * cancel request), 55P03 lock_not_available (lock_timeout, NOWAIT), 40001
 * serialization_failure and 40P01 deadlock_detected. The label names the
 * reason in metrics (`db_errors_total`).
 */
const BUSY_SQLSTATES: ReadonlyMap<string, string> = new Map([
  ['57014', 'query_canceled'],
  ['55P03', 'lock_not_available'],
  ['40001', 'serialization_failure'],
  ['40P01', 'deadlock_detected'],
]);

/**
 * The reason label when `error` (or its cause) is a statement the database
 * could not finish now but may on a retry; undefined otherwise.
 *
 * @example databaseBusyReason(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })) // 'query_canceled'
 */
export function databaseBusyReason(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const code = codeOf(error);
  const reason = code === undefined ? undefined : BUSY_SQLSTATES.get(code);
  return reason ?? databaseBusyReason((error as { cause?: unknown }).cause, depth + 1);
}

/** Unavailable or busy: answered 503 SERVICE_UNAVAILABLE with Retry-After, never 500. */
export function isRetryableDatabaseError(error: unknown): boolean {
  return isDatabaseUnavailable(error) || databaseBusyReason(error) !== undefined;
}

/** Code and message only: enough for a log line, without the stack of every request caught in an outage. */
export function describeDatabaseError(error: unknown): { code: string | undefined; message: string } {
  if (typeof error !== 'object' || error === null) return { code: undefined, message: String(error) };
  const message = (error as { message?: unknown }).message;
  return { code: codeOf(error), message: typeof message === 'string' ? message : 'unknown error' };
}

/**
 * Logs one request's retryable database failure, code and message only
 * (never a stack): a statement that could not finish at warn, since it names
 * the operation that waited; an outage at debug, since the pool logs the
 * outage itself once when it starts and once when it ends (src/db/availability.ts).
 */
export function logRetryableDatabaseError(log: Pick<BaseLogger, 'debug' | 'warn'>, error: unknown, fields: Record<string, unknown> = {}): void {
  const db = describeDatabaseError(error);
  if (isDatabaseUnavailable(error)) log.debug({ ...fields, db }, 'database unavailable');
  else log.warn({ ...fields, db, reason: databaseBusyReason(error) }, 'database could not finish a statement in time');
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
