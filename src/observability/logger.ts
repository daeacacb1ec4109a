import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

import type { Config } from '../config/config.js';

export type { Logger } from 'pino';

/**
 * Secrets never reach a log line, wherever they sit in the logged object: a
 * value under one of these keys is replaced by `[redacted]`, at any depth
 * down to `REDACT_MAX_DEPTH`, in objects and arrays.
 */
const SECRET_KEYS = new Set([
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'password_hash',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'secret',
  'databaseUrl',
]);
const CENSOR = '[redacted]';
/** Deeper than this, a nested value is logged as `[too deep]`: a log line never walks an unbounded structure. */
export const REDACT_MAX_DEPTH = 8;

const CENSOR_TOO_DEEP = '[too deep]';

/** Objects whose keys are walked: not dates, buffers or collections (their JSON holds no keys of their own). */
const isWalkable = (value: unknown): value is Record<string, unknown> | unknown[] =>
  typeof value === 'object' && value !== null && !(value instanceof Date) && !ArrayBuffer.isView(value) && !(value instanceof Map) && !(value instanceof Set);

/**
 * A copy of an object to censor a key in: same prototype, same properties
 * (enumerable or not), so an error stays an error with its message and
 * stack, and whatever pino's serializers or JSON.stringify read is the same.
 */
function copyOf(value: Record<string, unknown>): Record<string, unknown> {
  return Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Record<string, unknown>;
}

/**
 * The logged object with every secret censored. The caller's object is never
 * changed: containers are copied on the way down only where something below
 * them is censored (`copyOf`), so a line without secrets (nearly all of
 * them: a request's line is a dozen flat fields) costs one walk of its keys
 * and no allocation. Errors are walked like any object (their own properties),
 * and again after pino's error serializer has turned them into objects.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (!isWalkable(value)) return value;
  if (depth >= REDACT_MAX_DEPTH) return CENSOR_TOO_DEEP as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = redactSecrets(item, depth + 1);
      if (next !== item) (copy ??= value.slice())[i] = next;
    }
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const item = value[key];
    const next = SECRET_KEYS.has(key) ? CENSOR : redactSecrets(item, depth + 1);
    if (next !== item) Object.defineProperty((copy ??= copyOf(value)), key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return (copy ?? value) as T;
}

/**
 * The options every logger of this server shares (createLogger, and tests
 * that capture lines): secrets censored, the service name, trace ids.
 *
 * - `formatters.log` censors the logged object at every depth
 *   (`redactSecrets`), and the error serializer the logged errors.
 * - `redact`, with top-level paths only, censors a secret key bound to a
 *   child logger (`log.child({ … })`), whose bindings pino serialises once,
 *   without the log formatter. Only top-level paths: a wildcard path (`*.x`)
 *   makes pino parse and walk every path for every field of every line, which
 *   made it the largest allocator in a request's life.
 */
export function baseLoggerOptions(level: string) {
  return {
    level,
    base: { service: 'marketplace-api' },
    mixin: traceLogFields,
    redact: { paths: [...SECRET_KEYS].map((key) => `["${key}"]`), censor: CENSOR },
    serializers: { err: (error: Error) => redactSecrets(pino.stdSerializers.err(error)) },
    formatters: { log: (object: Record<string, unknown>) => redactSecrets(object) },
  };
}

/**
 * pino mixin: the trace and span ids of the active span, so every line logged
 * while a request is traced leads to its trace. Nothing when tracing is off.
 */
export function traceLogFields(): Record<string, string> {
  const ids = trace.getSpan(context.active())?.spanContext();
  return ids && isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Logger {
  const options = baseLoggerOptions(config.logLevel);
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  }
  // Asynchronous, buffered writes: a line is queued and written with the lines logged while the
  // previous write was in flight, instead of one blocking write per line. pino registers the
  // destination to be flushed synchronously on process exit (process.exit, a crash, the end of
  // the event loop), so nothing logged before the exit is lost (test/unit/logger-flush.test.ts).
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
