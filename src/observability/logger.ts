import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

import type { Config } from '../config/config.js';

export type { Logger } from 'pino';

/**
 * Secrets never reach a log line, wherever they sit in the logged object.
 * pino's wildcards match one level, so common nestings are listed.
 */
const SECRET_KEYS = [
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
];
export const REDACT_PATHS = [
  ...SECRET_KEYS.map((key) => `["${key}"]`),
  ...SECRET_KEYS.map((key) => `*["${key}"]`),
  ...SECRET_KEYS.map((key) => `*.*["${key}"]`),
  ...SECRET_KEYS.map((key) => `*.*.*["${key}"]`),
];

/**
 * pino mixin: the trace and span ids of the active span, so every line logged
 * while a request is traced leads to its trace. Nothing when tracing is off.
 */
export function traceLogFields(): Record<string, string> {
  const ids = trace.getSpan(context.active())?.spanContext();
  return ids && isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'marketplace-api' },
    mixin: traceLogFields,
  };
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  }
  // Asynchronous, buffered writes: a line is queued and written with the lines logged while the
  // previous write was in flight, instead of one blocking write per line. pino registers the
  // destination to be flushed synchronously on process exit (process.exit, a crash, the end of
  // the event loop), so nothing logged before the exit is lost (test/unit/logger-flush.test.ts).
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
