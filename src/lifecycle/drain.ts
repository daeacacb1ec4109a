import type { FastifyInstance } from 'fastify';

import { requestError } from '../errors/errors.js';

/** Retry-After, in seconds, for requests refused while shutting down: another instance should answer by then. */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 1;

const POLL_MS = 20;

/**
 * Graceful shutdown, the HTTP part. Once `drain()` is called:
 * - `/health/ready` answers 503 (`reason: "shutting down"`), so load
 *   balancers stop sending traffic; `/health/live` still answers;
 * - every other new request is answered at once with 503
 *   SERVICE_UNAVAILABLE, `Retry-After` and `Connection: close`;
 * - requests already running finish normally (their responses carry
 *   `Connection: close`, so keep-alive clients reconnect elsewhere).
 *
 * The listener stays open meanwhile, so late clients get a clean 503
 * instead of a refused connection; closing the app afterwards is the
 * caller's job (main.ts).
 */
export interface Drain {
  readonly draining: boolean;
  /** Requests being served now (refused ones not counted). */
  readonly inFlight: number;
  /**
   * Starts draining and resolves when no request is in flight, or after
   * `timeoutMs` with the number still running.
   */
  drain(timeoutMs: number): Promise<{ unfinished: number }>;
}

/** Registers the hooks; call before any other onRequest hook so a refused request runs nothing else. */
export function registerDrain(app: FastifyInstance): Drain {
  let draining = false;
  let inFlight = 0;

  app.addHook('onRequest', async (request, reply) => {
    if (draining && !request.url.startsWith('/health/')) {
      return reply
        .code(503)
        .header('connection', 'close')
        .header('retry-after', String(SHUTDOWN_RETRY_AFTER_SECONDS))
        .send(requestError('SERVICE_UNAVAILABLE', request.id, 'The server is shutting down; retry the request.'));
    }
    inFlight += 1;
    let counted = true;
    // 'close' fires once the response is sent or the client went away, whichever comes first.
    reply.raw.once('close', () => {
      if (counted) inFlight -= 1;
      counted = false;
    });
    return undefined;
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining) reply.header('connection', 'close');
    return payload;
  });

  return {
    get draining() {
      return draining;
    },
    get inFlight() {
      return inFlight;
    },
    async drain(timeoutMs) {
      draining = true;
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return { unfinished: inFlight };
    },
  };
}
