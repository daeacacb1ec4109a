/**
 * The one place that makes Redis clients. Every user of Redis (the
 * brute-force limiter, the query-cost limiter, the response cache's Redis
 * store) takes the client that `buildApp` creates from REDIS_URL, so one
 * connection, and one circuit breaker, serves them all.
 *
 * Clients fail fast: no offline queue, a command timeout (REDIS_COMMAND_TIMEOUT_MS,
 * 1 s by default), and a circuit breaker (src/redis/breaker.ts) that opens on
 * the first timeout or when the connection is lost, so that while Redis is
 * silent or away every command is refused at once instead of waiting. A
 * caller that gets an error falls back (an in-memory insurance limiter, a
 * cache miss). A connection that stays silent for five command timeouts is
 * dropped and made again (a frozen peer is not waited on for ever); the
 * client keeps reconnecting in the background until it is closed. A command
 * whose caller already gave up is never sent again on the new connection.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Command, Redis } from 'ioredis';

import { countRedisBreakerChange, countRedisCommandFailure, countRedisCommandSkipped, observeRedisBreaker } from '../observability/metrics.js';
import { CircuitBreaker, RedisUnavailableError, type RedisBreaker } from './breaker.js';

export type { Redis } from 'ioredis';
export { RedisUnavailableError, type BreakerChange, type BreakerState, type RedisBreaker } from './breaker.js';

/** Default REDIS_COMMAND_TIMEOUT_MS. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
/** How often an open breaker sends its PING. */
export const PROBE_INTERVAL_MS = 1_000;

/** A client made here: an ioredis client with its breaker. */
export type RedisClient = Redis & { readonly breaker: RedisBreaker };

export interface RedisClientOptions {
  /** Connection errors (ioredis emits one per failed reconnect). Default: ignored; the breaker reports the outage once. */
  onError?: (error: Error) => void;
  /** How long a command may wait for its answer (default 1 s). The breaker's probe gets half of it. */
  commandTimeoutMs?: number;
  /** How often an open breaker probes (default 1 s). */
  probeIntervalMs?: number;
}

const TIMED_OUT = 'Command timed out';

type WriteStream = Parameters<Redis['sendCommand']>[1];

/**
 * Every command passes through `sendCommand` (pipelines and MULTI too, one
 * command at a time, synchronously), so the breaker is applied there.
 */
class BreakerRedis extends Redis implements RedisClient {
  readonly breaker: CircuitBreaker;
  /** Commands written while closed and not yet answered: refused at once when the breaker opens. */
  private readonly inFlight = new Set<Command>();
  private readonly probes = new WeakSet<Command>();
  /** The latest connection error, reported with the loss of the connection. */
  private lastError: Error | undefined;

  constructor(url: string, commandTimeoutMs: number, probeIntervalMs: number) {
    super(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      // No byte from a connection with commands outstanding for this long: drop it and reconnect.
      socketTimeout: 5 * commandTimeoutMs,
      connectTimeout: 5_000,
      // A command that timed out or was refused has been answered for its caller; never replay it.
      autoResendUnfulfilledCommands: false,
    });
    this.breaker = new CircuitBreaker(
      { probeIntervalMs, probeTimeoutMs: Math.max(1, Math.floor(commandTimeoutMs / 2)) },
      { canProbe: () => this.status === 'ready', ping: (timeoutMs) => this.sendProbe(timeoutMs) },
    );
    this.on('error', (error: Error) => {
      this.lastError = error;
    });
    this.on('close', () => {
      this.breaker.trip('connection', this.lastError ?? new Error('connection to Redis closed'));
      this.lastError = undefined;
    });
    this.on('ready', () => this.breaker.probeNow());
    const unobserve = observeRedisBreaker(this.breaker);
    this.on('end', () => {
      this.breaker.stop();
      unobserve();
    });
    this.breaker.onChange(({ state }) => {
      countRedisBreakerChange(state);
      if (state === 'open') this.releaseInFlight();
    });
  }

  override sendCommand(command: Command, stream?: WriteStream): unknown {
    const probe = this.probes.has(command);
    // While open only the probe goes out, and the handshake of a new connection (ioredis's own commands).
    const handshake = this.status !== 'ready' && Command.checkFlag('HANDSHAKE_COMMANDS', command.name);
    if (this.breaker.state === 'open' && !probe && !handshake) {
      this.breaker.skippedCommand();
      countRedisCommandSkipped();
      command.reject(new RedisUnavailableError());
      return command.promise;
    }
    const result = super.sendCommand(command, stream);
    if (!probe && !command.isResolved) this.trackCommand(command);
    return result;
  }

  private trackCommand(command: Command): void {
    this.inFlight.add(command);
    (command.promise as Promise<unknown>).then(
      () => this.inFlight.delete(command),
      (error: unknown) => {
        this.inFlight.delete(command);
        if (error instanceof RedisUnavailableError) return;
        const timedOut = error instanceof Error && error.message === TIMED_OUT;
        // A ReplyError is Redis answering: it says nothing about reachability.
        if (error instanceof Error && error.name === 'ReplyError') return;
        countRedisCommandFailure(timedOut ? 'timeout' : 'connection');
        if (timedOut) this.breaker.trip('timeout', error);
      },
    );
  }

  private releaseInFlight(): void {
    const waiting = [...this.inFlight];
    this.inFlight.clear();
    for (const command of waiting) command.reject(new RedisUnavailableError());
  }

  private async sendProbe(timeoutMs: number): Promise<void> {
    const ping = new Command('ping', [], { replyEncoding: 'utf8' });
    // First timer wins: sendCommand's own (the command timeout) is not set over it.
    ping.setTimeout(timeoutMs);
    this.probes.add(ping);
    this.sendCommand(ping);
    const reply: unknown = await ping.promise;
    if (reply !== 'PONG') throw new Error(`unexpected PING reply: ${String(reply)}`);
  }
}

/** An ioredis client tuned to fail fast, with its circuit breaker (see the module comment); connecting already. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  const client = new BreakerRedis(url, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, options.probeIntervalMs ?? PROBE_INTERVAL_MS);
  // Without a listener ioredis prints every connection error to the console.
  client.on('error', options.onError ?? (() => undefined));
  client.connect().catch(() => undefined);
  return client;
}

/**
 * Logs each outage twice and only twice: a warning when the breaker opens
 * (Redis silent or unreachable), an info line when it closes again. What
 * happens in between is counted in /metrics (src/observability/metrics.ts),
 * not logged per request.
 */
export function logRedisAvailability(client: RedisClient, log: FastifyBaseLogger): void {
  client.breaker.onChange((change) => {
    if (change.state === 'open') {
      log.warn(
        { reason: change.reason, error: change.error?.message },
        'Redis is unreachable: rate limits fall back to per-instance memory budgets and the Redis response cache is bypassed until it answers again',
      );
    } else {
      log.info(
        { openForMs: change.openForMs, skippedCommands: change.skippedCommands },
        'Redis answers again: rate limits are shared between instances and the response cache is in use',
      );
    }
  });
}

/** Quits gracefully when connected and answering; otherwise drops the connection and stops reconnecting. */
export async function closeRedisClient(client: Redis): Promise<void> {
  // Closing on purpose is no outage: nothing to report, nothing to probe.
  if (client instanceof BreakerRedis) client.breaker.stop();
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: force it.
    }
  }
  client.disconnect();
}
