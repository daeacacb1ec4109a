import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';

import CircuitBreaker from 'opossum';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

import { refusedAddress } from './ssrf.js';

/**
 * One delivery attempt: a POST with `node:http`/`node:https` through
 * `request-filtering-agent`, which checks every address the host resolves to
 * at connect time (so a name that re-resolves to a private address after
 * registration is refused: DNS rebinding), plus our own check of an IP-literal
 * host. Redirects are never followed (a 3xx is a failure), only a 2xx counts,
 * the whole attempt is bounded by `timeoutMs`, and the response body is read
 * to at most 1 kB and discarded.
 *
 * Connections are kept alive between attempts to the same host and port (a
 * new one is opened, and its address checked, only when no idle one is
 * there): an idle socket is closed after `IDLE_SOCKET_MS` (or the receiver's
 * shorter `Keep-Alive: timeout`), at most `MAX_IDLE_SOCKETS_PER_HOST` stay per
 * host. At most `MAX_SOCKETS_PER_HOST` are open to one host at once: a batch
 * of many attempts to one receiver waits for a free connection rather than
 * opening (and then closing) more, which spared the receiver and the worker
 * a handshake and a close per extra attempt. An attempt's timeout includes
 * that wait. A request on a reused socket that the receiver had closed meanwhile
 * fails with ECONNRESET before any answer: it is sent once more on a new
 * connection (Node's documented pattern, `req.reusedSocket`), within the
 * same time budget.
 *
 * A per-host circuit breaker (opossum) makes a worker fail fast while a host
 * keeps failing (connection errors, timeouts, 5xx): the attempt is not made
 * and the delivery is rescheduled. That state is per process and short-lived;
 * what lasts (an endpoint failing for days, disabled) is in the database.
 */

export interface AttemptRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface AttemptOptions {
  timeoutMs: number;
  /** Loopback and private addresses reachable (`WEBHOOK_ALLOW_PRIVATE_TARGETS`, development and tests only). */
  allowPrivate: boolean;
}

export type AttemptOutcome =
  | { kind: 'delivered'; statusCode: number; durationMs: number }
  /** 410 Gone: the receiver asks to stop; the endpoint is disabled. */
  | { kind: 'gone'; statusCode: number; durationMs: number }
  | { kind: 'failed'; statusCode: number | null; durationMs: number; error: string; retryAfterMs?: number }
  /** The host's breaker is open: nothing was sent; try again after `retryAfterMs`. */
  | { kind: 'skipped'; durationMs: 0; error: string; retryAfterMs: number };

/** How long an idle kept-alive socket stays open: under the 5 s many servers (Node's among them) close idle connections after. */
export const IDLE_SOCKET_MS = 4000;
/** Idle sockets kept per host and port (and per agent): enough for the worker's concurrent attempts to one receiver. */
export const MAX_IDLE_SOCKETS_PER_HOST = 8;

/** Connections open at once per host and port (and per agent): more attempts to one receiver wait for one of them. */
export const MAX_SOCKETS_PER_HOST = MAX_IDLE_SOCKETS_PER_HOST;

const keepAlive = { keepAlive: true, timeout: IDLE_SOCKET_MS, maxSockets: MAX_SOCKETS_PER_HOST, maxFreeSockets: MAX_IDLE_SOCKETS_PER_HOST, scheduling: 'lifo' as const };
const agents = {
  strict: { http: new RequestFilteringHttpAgent(keepAlive), https: new RequestFilteringHttpsAgent(keepAlive) },
  open: {
    http: new RequestFilteringHttpAgent({ ...keepAlive, allowPrivateIPAddress: true }),
    https: new RequestFilteringHttpsAgent({ ...keepAlive, allowPrivateIPAddress: true }),
  },
};

const MAX_BODY_READ = 1024;
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** `Retry-After` as seconds or an HTTP date, in ms from now; `undefined` when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(0, seconds), MAX_RETRY_AFTER_MS);
}

function classify(response: IncomingMessage, durationMs: number): AttemptOutcome {
  const statusCode = response.statusCode ?? 0;
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode, durationMs };
  if (statusCode === 410) return { kind: 'gone', statusCode, durationMs };
  if (statusCode >= 300 && statusCode < 400) return { kind: 'failed', statusCode, durationMs, error: `HTTP ${statusCode}: redirects are not followed` };
  const header: string | undefined = response.headers['retry-after'];
  const wait = statusCode === 429 || statusCode === 503 ? retryAfterMs(header) : undefined;
  return { kind: 'failed', statusCode, durationMs, error: `HTTP ${statusCode}`, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
}

/** Sends once; never rejects (every problem is a `failed` outcome). */
export function send(request: AttemptRequest, options: AttemptOptions): Promise<AttemptOutcome> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.resolve({ kind: 'failed', statusCode: null, durationMs: 0, error: 'invalid URL' });
  }
  return sendTo(url, request, options);
}

/** `send` to `request.url` parsed already. */
function sendTo(url: URL, request: AttemptRequest, options: AttemptOptions): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!options.allowPrivate && isIP(host) !== 0) {
    const why = refusedAddress(host);
    if (why) return Promise.resolve({ kind: 'failed', statusCode: null, durationMs: 0, error: `refused: ${host} ${why}` });
  }
  const secure = url.protocol === 'https:';
  const pool = options.allowPrivate ? agents.open : agents.strict;
  const headers = { ...request.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body), 'user-agent': 'marketplace-api-webhooks/1' };
  return new Promise((resolve) => {
    let settled = false;
    let current: ClientRequest | undefined;
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const post = (retry: boolean) => {
      let answered = false;
      const req = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', agent: secure ? pool.https : pool.http, headers }, (response) => {
        answered = true;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_BODY_READ) response.destroy();
        });
        response.on('error', () => finish(classify(response, elapsed())));
        // 'end' (the whole body read) returns a kept-alive socket to its pool; 'close' covers a body cut short.
        response.on('end', () => finish(classify(response, elapsed())));
        response.on('close', () => finish(classify(response, elapsed())));
      });
      current = req;
      req.on('error', (error) => {
        // A kept-alive socket the receiver closed while idle: nothing reached it; once more on a new connection.
        if (retry && !settled && !answered && req.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
          post(false);
          return;
        }
        finish({ kind: 'failed', statusCode: null, durationMs: elapsed(), error: describeError(error) });
      });
      req.end(request.body);
    };
    const timer = setTimeout(() => {
      finish({ kind: 'failed', statusCode: null, durationMs: elapsed(), error: `timed out after ${options.timeoutMs} ms` });
      current?.destroy();
    }, options.timeoutMs);
    post(true);
  });
}

function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (error.message.includes('is not allowed')) return `refused: ${error.message.replace(/^DNS lookup /, '')}`;
  return code ? `${code}: ${error.message}` : error.message;
}

/** What a host failure is: no answer, or a 5xx. A 4xx is the receiver's application answering. */
const hostFailed = (outcome: AttemptOutcome) => outcome.kind === 'failed' && (outcome.statusCode === null || outcome.statusCode >= 500);

class HostFailure extends Error {
  constructor(readonly outcome: AttemptOutcome) {
    super('host failed');
  }
}

export interface BreakerSettings {
  /** Failed share (percent) over the rolling window that opens the breaker. */
  errorThresholdPercentage: number;
  /** Attempts in the window before the share counts. */
  volumeThreshold: number;
  /** How long an open breaker fails fast before one trial attempt. */
  resetTimeoutMs: number;
}

export const DEFAULT_BREAKER: BreakerSettings = { errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeoutMs: 30_000 };
const MAX_BREAKERS = 1000;
const breakers = new Map<string, CircuitBreaker<[URL, AttemptRequest, AttemptOptions], AttemptOutcome>>();

function breakerFor(host: string, settings: BreakerSettings) {
  let breaker = breakers.get(host);
  if (!breaker) {
    if (breakers.size >= MAX_BREAKERS) {
      const oldest = breakers.keys().next().value;
      if (oldest !== undefined) {
        breakers.get(oldest)?.shutdown();
        breakers.delete(oldest);
      }
    }
    breaker = new CircuitBreaker(
      async (url: URL, request: AttemptRequest, options: AttemptOptions) => {
        const outcome = await sendTo(url, request, options);
        if (hostFailed(outcome)) throw new HostFailure(outcome);
        return outcome;
      },
      { timeout: false, errorThresholdPercentage: settings.errorThresholdPercentage, volumeThreshold: settings.volumeThreshold, resetTimeout: settings.resetTimeoutMs },
    );
    breakers.set(host, breaker);
  }
  return breaker;
}

/** How many hosts' breakers are open now (a metric). */
export function openBreakerCount(): number {
  let open = 0;
  for (const breaker of breakers.values()) if (breaker.opened) open += 1;
  return open;
}

/** Whether the breaker of a host (`host:port`) is open now (for metrics and tests). */
export function breakerOpen(host: string): boolean {
  return breakers.get(host)?.opened ?? false;
}

/**
 * One attempt through the host's circuit breaker (keyed by `host:port`).
 * Never rejects: an open breaker is a `skipped` outcome.
 */
export async function attemptDelivery(request: AttemptRequest, options: AttemptOptions, settings: BreakerSettings = DEFAULT_BREAKER): Promise<AttemptOutcome> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return send(request, options);
  }
  const host = url.host;
  const breaker = breakerFor(host, settings);
  try {
    return await breaker.fire(url, request, options);
  } catch (error) {
    if (error instanceof HostFailure) return error.outcome;
    if ((error as { code?: string }).code === 'EOPENBREAKER') {
      return { kind: 'skipped', durationMs: 0, error: `circuit open for ${host}`, retryAfterMs: settings.resetTimeoutMs };
    }
    return { kind: 'failed', statusCode: null, durationMs: 0, error: (error as Error).message };
  }
}
