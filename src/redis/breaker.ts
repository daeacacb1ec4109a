/**
 * The circuit breaker every Redis client carries (src/redis/client.ts makes
 * them): when Redis stops answering, callers stop waiting for it.
 *
 * Contract, relied on by every user of Redis (the response cache's Redis
 * store, the query-cost budgets, the login limits):
 *
 * - `closed`: commands go to Redis. The first command that times out, or the
 *   loss of the connection, opens the breaker.
 * - `open`: every command is refused at once with `RedisUnavailableError`
 *   and never written to the connection. Commands written before it opened
 *   and still unanswered are refused at that moment too (a reply that comes
 *   later is dropped, as after a timeout), so a caller waits at most one
 *   command timeout for a Redis that went silent, once, not once per command.
 *   A refused command may still have reached Redis: callers fall back
 *   (per-instance memory, a cache miss) and treat its effect as unknown.
 * - Only a probe closes it: while open, a PING goes out every probe interval
 *   (one at a time, and only on an established connection; at once when the
 *   connection is re-established), and the first one answered within the
 *   probe timeout closes the breaker.
 * - Listeners hear each change synchronously, once the new state holds: a
 *   listener to `closed` runs before any other caller's command reaches
 *   Redis, so it can settle what the outage left owed (src/cache/response-cache.ts
 *   replays the invalidations it could not deliver).
 */
export type BreakerState = 'closed' | 'open';

/** Why the breaker opened: a command went unanswered for the command timeout, or the connection was lost or refused. */
export type TripReason = 'timeout' | 'connection';

export interface BreakerChange {
  state: BreakerState;
  /** Set when it opened. */
  reason?: TripReason;
  /** The error that opened it. */
  error?: Error;
  /** When it closed: how long it was open, and how many commands were refused meanwhile. */
  openForMs?: number;
  skippedCommands?: number;
}

export interface RedisBreaker {
  readonly state: BreakerState;
  /** Calls `listener` on every change of state; returns a function that removes it. */
  onChange(listener: (change: BreakerChange) => void): () => void;
}

/** What a command refused by an open breaker rejects with. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  constructor() {
    super('Redis circuit breaker is open: command not sent');
  }
}

export interface BreakerTiming {
  /** How often an open breaker probes Redis. */
  probeIntervalMs: number;
  /** How soon a probe must be answered to close the breaker. */
  probeTimeoutMs: number;
}

export interface BreakerProbe {
  /** Whether a probe can be sent now (the connection is established). */
  canProbe(): boolean;
  /** Sends one PING; resolves when answered within `timeoutMs`, rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
}

/** The state machine behind `RedisBreaker`; src/redis/client.ts feeds it the client's events. */
export class CircuitBreaker implements RedisBreaker {
  private current: BreakerState = 'closed';
  private readonly listeners = new Set<(change: BreakerChange) => void>();
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private openedAt = 0;
  private skipped = 0;

  constructor(
    private readonly timing: BreakerTiming,
    private readonly probe: BreakerProbe,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  onChange(listener: (change: BreakerChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Counts a command refused while open (reported when it closes). */
  skippedCommand(): void {
    this.skipped += 1;
  }

  /** A command timed out or the connection went away: opens the breaker (no-op when already open or stopped). */
  trip(reason: TripReason, error?: Error): void {
    if (this.current === 'open' || this.stopped) return;
    this.current = 'open';
    this.openedAt = Date.now();
    this.skipped = 0;
    this.timer = setInterval(() => this.probeNow(), this.timing.probeIntervalMs);
    this.timer.unref();
    this.emit({ state: 'open', reason, ...(error ? { error } : {}) });
  }

  /** Probes at once when open (the connection was just re-established). */
  probeNow(): void {
    if (this.current !== 'open' || this.probing || this.stopped || !this.probe.canProbe()) return;
    this.probing = true;
    this.probe.ping(this.timing.probeTimeoutMs).then(
      () => {
        this.probing = false;
        this.close();
      },
      () => {
        this.probing = false;
      },
    );
  }

  /** The client is closed for good: no more probes, no more changes. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private close(): void {
    if (this.current === 'closed' || this.stopped) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.current = 'closed';
    this.emit({ state: 'closed', openForMs: Date.now() - this.openedAt, skippedCommands: this.skipped });
  }

  private emit(change: BreakerChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
