import { Server as NetServer, type Socket } from 'node:net';

import type { FastifyInstance } from 'fastify';

import { requestError } from '../errors/errors.js';

/** Retry-After, in seconds, for requests refused while shutting down: another instance should answer by then. */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 1;

/**
 * After the drain delay, the listener closes once no connection has been
 * accepted or ended for this long. Closing a listening socket resets the
 * connections the kernel has accepted but Node has not taken yet (its accept
 * queue), and a client whose connection just ended (after a `Connection:
 * close` answer) is likely reconnecting; waiting for a quiet moment means
 * nobody is in that queue. Clients still connecting meanwhile are answered 503.
 */
export const LISTENER_QUIET_MS = 250;

const POLL_MS = 20;

/**
 * - `serving`: normal operation;
 * - `draining`: the drain delay after the signal: readiness fails, requests
 *   are served normally, every response carries `Connection: close`;
 * - `closing`: new requests are answered 503; the listener closes at the
 *   first quiet moment; requests already running finish, then idle
 *   connections are closed;
 * - `closed`: every connection has ended (or was cut at the deadline).
 */
export type DrainPhase = 'serving' | 'draining' | 'closing' | 'closed';

export interface ShutdownOptions {
  /** How long requests keep being served after the signal (SHUTDOWN_DRAIN_DELAY_MS). */
  delayMs: number;
  /** From the signal, when requests still running are cut and idle connections closed (SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface ShutdownReport {
  /** Requests admitted and served normally during the drain delay. */
  servedDuringDelay: number;
  /** Requests answered 503 SERVICE_UNAVAILABLE after the delay. */
  refused: number;
  /** Milliseconds from the signal until the listener closed. */
  listenerClosedAfterMs: number;
  /** Idle keep-alive connections closed once no request was running. */
  idleClosed: number;
  /** Connections still busy at the deadline (`timeoutMs` after the signal), cut. */
  cut: number;
}

/**
 * Graceful shutdown, the HTTP part (main.ts calls `shutdown` on SIGTERM and
 * closes the app afterwards):
 * 1. drain delay: `/health/ready` answers 503 (`reason: "shutting down"`)
 *    so load balancers stop routing here, while requests keep being served
 *    normally; every response carries `Connection: close`, so keep-alive
 *    clients open a new connection (through the balancer, elsewhere) for
 *    their next request;
 * 2. then new requests are answered 503 SERVICE_UNAVAILABLE with
 *    `Retry-After` and `Connection: close` (`/health/*` still answer), and the
 *    listener closes at the first quiet moment (LISTENER_QUIET_MS);
 * 3. requests running finish, and a request arriving meanwhile on a
 *    kept-alive connection gets the 503; once none runs, the connections
 *    left idle (their clients quiet since the delay began) are closed; at
 *    the deadline (`timeoutMs` after the signal) whatever is still open is
 *    cut.
 *
 * Node's `server.close()` (which `app.close()` calls) closes idle keep-alive
 * connections at once, racing clients that are writing a request on them;
 * so the listener is closed with net.Server's own `close`, which leaves the
 * connections alone, and `app.close()` runs only once they ended.
 */
export interface Drain {
  /** True once shutdown has started: readiness fails. */
  readonly draining: boolean;
  readonly phase: DrainPhase;
  /** Requests being served now (refused ones not counted). */
  readonly inFlight: number;
  /** Open client connections. */
  readonly connections: number;
  /** Runs steps 1 to 3; resolves when no connection is left (or after the deadline). */
  shutdown(options: ShutdownOptions): Promise<ShutdownReport>;
  /**
   * Adds a step run once the listener has closed, before running requests
   * are waited for: long-lived connections (WebSockets, event streams) end
   * themselves there, by `deadline` (ms since the epoch).
   */
  onListenerClosed(step: (deadline: number) => Promise<void>): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Registers the hooks; call before any other onRequest hook that does work, so a refused request runs nothing else. */
export function registerDrain(app: FastifyInstance): Drain {
  let phase: DrainPhase = 'serving';
  let inFlight = 0;
  let servedDuringDelay = 0;
  let refused = 0;
  const sockets = new Set<Socket>();
  /** When a connection was last accepted or ended. */
  let lastActivityAt = 0;
  const listenerClosedSteps: ((deadline: number) => Promise<void>)[] = [];

  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    lastActivityAt = Date.now();
    socket.once('close', () => {
      sockets.delete(socket);
      // Its client may be about to reconnect (after a `Connection: close` answer, typically).
      lastActivityAt = Date.now();
    });
  });

  app.addHook('onRequest', async (request, reply) => {
    if (phase !== 'serving' && phase !== 'draining' && !request.url.startsWith('/health/')) {
      refused += 1;
      return reply
        .code(503)
        .header('retry-after', String(SHUTDOWN_RETRY_AFTER_SECONDS))
        .send(requestError('SERVICE_UNAVAILABLE', request.id, 'The server is shutting down; retry the request.'));
    }
    if (phase === 'draining') servedDuringDelay += 1;
    inFlight += 1;
    let counted = true;
    // 'close' fires once the response is sent or the client went away, whichever comes first.
    reply.raw.once('close', () => {
      if (counted) inFlight -= 1;
      counted = false;
    });
    return undefined;
  });

  // Node ends the connection after a response that says `Connection: close`.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (phase !== 'serving') reply.header('connection', 'close');
    return payload;
  });

  /** Waits until `done()` holds or the deadline passes; true if it holds. */
  async function until(done: () => boolean, deadline: number): Promise<boolean> {
    while (!done()) {
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    }
    return true;
  }

  return {
    get draining() {
      return phase !== 'serving';
    },
    get phase() {
      return phase;
    },
    get inFlight() {
      return inFlight;
    },
    get connections() {
      return sockets.size;
    },
    onListenerClosed(step) {
      listenerClosedSteps.push(step);
    },
    async shutdown({ delayMs, timeoutMs }) {
      const signalAt = Date.now();
      const deadline = signalAt + timeoutMs;
      phase = 'draining';
      if (delayMs > 0) await sleep(Math.min(delayMs, timeoutMs));
      phase = 'closing';

      await until(() => Date.now() - lastActivityAt >= LISTENER_QUIET_MS, deadline);
      // Stops accepting at once; unlike http.Server's close, leaves open connections alone.
      // (Its callback would wait for every connection to end: the wait is below, with a deadline.)
      NetServer.prototype.close.call(app.server);
      const listenerClosedAfterMs = Date.now() - signalAt;
      app.log.info({ listenerClosedAfterMs, inFlight, connections: sockets.size }, 'shutting down: listener closed');
      for (const step of listenerClosedSteps) await step(deadline).catch((error: unknown) => app.log.error({ err: error }, 'shutting down: a step failed'));

      // Requests running finish. Connections still open once none runs (and none was accepted or
      // ended for a moment) belong to clients quiet since the delay began: closed now, by Node's
      // closeIdleConnections, which spares a connection in the middle of receiving a request.
      let idleClosed = 0;
      if (await until(() => inFlight === 0 && Date.now() - lastActivityAt >= LISTENER_QUIET_MS, deadline)) {
        idleClosed = sockets.size;
        app.server.closeIdleConnections();
      }
      let cut = 0;
      if (!(await until(() => sockets.size === 0, deadline))) {
        cut = sockets.size;
        for (const socket of sockets) socket.destroy();
      }
      phase = 'closed';
      return { servedDuringDelay, refused, listenerClosedAfterMs, cut, idleClosed };
    },
  };
}
