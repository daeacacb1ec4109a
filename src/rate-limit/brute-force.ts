/**
 * Brute-force protection for `logIn` and `signUp` (rate-limiter-flexible).
 *
 * Two fixed-window budgets:
 *   - per IP: every attempt, success or failure, costs one point
 *     (`perIp` attempts per hour, LOGIN_LIMIT_PER_IP);
 *   - per (email, IP): only failed attempts cost a point, and a success resets
 *     the counter (`perEmailIp` failures per 15 minutes, LOGIN_LIMIT_PER_EMAIL_IP).
 *
 * A resolver calls `check` first and, when it is not allowed, answers at once
 * (no password hashing, no database work). Otherwise it does the real work and
 * then reports the outcome with `recordFailure` or `recordSuccess`:
 *
 *   const decision = await limiter.check({ ip, email });
 *   if (!decision.allowed) throw tooManyAttempts(decision.retryAfterSeconds);
 *   const user = await verifyPassword(email, password);
 *   if (!user) { await limiter.recordFailure({ ip, email }); throw invalidCredentials(); }
 *   await limiter.recordSuccess({ ip, email });
 *
 * Sign-up uses the same limiter (and so shares the per-IP budget with log-in):
 * a rejected sign-up (e.g. the email is taken) is a failure, an account
 * created is a success.
 *
 * Store: in memory (per instance) by default; Redis when a client is given, so
 * the limits hold across server instances. A Redis error (down, timeout) falls
 * back to an in-memory insurance limiter: an outage degrades to per-instance
 * limits instead of failing log-ins.
 *
 * Keys never hold raw request input: the email (trimmed, lower-cased) and the
 * IP are hashed (SHA-256, first 32 hex digits).
 *
 * Concurrency note: the per-IP point is taken atomically in `check`; the
 * per-(email, IP) counter is only read there and incremented afterwards, so
 * attempts already in flight for one (email, IP) can pass that budget by their
 * number. The per-IP budget bounds that.
 */
import { createHash } from 'node:crypto';

import type { Redis } from '../redis/client.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** Window of the per-(email, IP) failure budget. */
export const EMAIL_IP_WINDOW_SECONDS = 15 * 60;
/** Window of the per-IP attempt budget. */
export const IP_WINDOW_SECONDS = 60 * 60;

export interface LoginAttempt {
  /** Client IP as the server sees it (request.ip). */
  ip: string;
  /** Email as typed; normalised (trim + lower-case) here. Absent: only the per-IP budget applies. */
  email?: string;
}

export type LimitDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** Whole seconds (rounded up, at least 1) before an attempt can succeed; for Retry-After. */
      retryAfterSeconds: number;
      /** Which budget is exhausted (the one with the longer wait when both are); for logs, not for clients. */
      limitedBy: 'ip' | 'email-ip';
    };

export interface BruteForceLimiter {
  /**
   * Takes one point of the per-IP budget (every attempt counts) and reads the
   * per-(email, IP) failure count. Not allowed when either budget is exhausted.
   * Rejects only when the store itself fails (never with a "limited" value).
   */
  check(attempt: LoginAttempt): Promise<LimitDecision>;
  /** After a failed attempt (wrong password, unknown email, sign-up refused): one point of the (email, IP) budget. */
  recordFailure(attempt: LoginAttempt): Promise<void>;
  /** After a successful attempt: resets the (email, IP) failure counter. */
  recordSuccess(attempt: LoginAttempt): Promise<void>;
  /**
   * Releases what the limiter owns. A Redis client passed in stays open: its
   * owner closes it (see closeRedisClient in src/redis/client.ts), so one client can serve several limiters.
   */
  close(): Promise<void>;
}

export interface BruteForceLimiterOptions {
  /** Shared store; absent: in-memory, per instance. Must not be a `lazyConnect` client that was never connected. */
  redis?: Redis;
  /** Failed attempts per (email, IP) per 15 minutes (config.loginLimitPerEmailIp). */
  perEmailIp: number;
  /** Attempts per IP per hour (config.loginLimitPerIp). */
  perIp: number;
  /** Prefix of the store keys; default `brute-force`. */
  keyPrefix?: string;
}

const HASH_HEX_CHARS = 32;

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, HASH_HEX_CHARS);
}

/** Trim + lower-case: `' Ann@Example.COM '` and `'ann@example.com'` share a counter. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function ipKey(ip: string): string {
  return digest(ip.trim().toLowerCase());
}

function emailIpKey(attempt: LoginAttempt): string | undefined {
  if (attempt.email === undefined) return undefined;
  return `${digest(normaliseEmail(attempt.email))}:${ipKey(attempt.ip)}`;
}

function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer (got ${value})`);
  }
}

interface LimiterSpec {
  keyPrefix: string;
  points: number;
  duration: number;
  /** Remember an exhausted key in process memory until its window ends (saves store round trips). */
  inMemoryBlock: boolean;
}

function makeLimiter(redis: Redis | undefined, spec: LimiterSpec): RateLimiterAbstract {
  const base = { keyPrefix: spec.keyPrefix, points: spec.points, duration: spec.duration };
  if (redis === undefined) return new RateLimiterMemory(base);
  return new RateLimiterRedis({
    ...base,
    storeClient: redis,
    // Not connected: go to the insurance limiter at once instead of waiting.
    rejectIfRedisNotReady: true,
    // Any store error (not a RateLimiterRes) is answered by this per-instance limiter.
    insuranceLimiter: new RateLimiterMemory(base),
    // 0 disables it; must be ≥ points. Without inMemoryBlockDuration the block lasts until the window ends.
    inMemoryBlockOnConsumed: spec.inMemoryBlock ? spec.points + 1 : 0,
  });
}

export function createBruteForceLimiter(options: BruteForceLimiterOptions): BruteForceLimiter {
  assertPositiveInteger('perEmailIp', options.perEmailIp);
  assertPositiveInteger('perIp', options.perIp);
  const prefix = options.keyPrefix ?? 'brute-force';

  const perIp = makeLimiter(options.redis, {
    keyPrefix: `${prefix}:ip`,
    points: options.perIp,
    duration: IP_WINDOW_SECONDS,
    inMemoryBlock: true,
  });
  const perEmailIp = makeLimiter(options.redis, {
    keyPrefix: `${prefix}:email-ip`,
    points: options.perEmailIp,
    duration: EMAIL_IP_WINDOW_SECONDS,
    // Only consume() consults in-memory blocks; this budget is read with get().
    inMemoryBlock: false,
  });

  /** Milliseconds until the IP may try again, or null when this attempt fits the budget. */
  async function consumeIpPoint(ip: string): Promise<number | null> {
    try {
      await perIp.consume(ipKey(ip), 1);
      return null;
    } catch (rejection: unknown) {
      // Over the limit: rate-limiter-flexible rejects with a RateLimiterRes.
      // Anything else is a store failure and must not pass for "limited".
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
  }

  /** Milliseconds until the (email, IP) pair may try again, or null when under the failure budget. */
  async function emailIpWait(key: string): Promise<number | null> {
    const state = await perEmailIp.get(key);
    if (state === null || state.consumedPoints < options.perEmailIp) return null;
    return state.msBeforeNext;
  }

  return {
    async check(attempt) {
      const key = emailIpKey(attempt);
      const [ipWaitMs, pairWaitMs] = await Promise.all([
        consumeIpPoint(attempt.ip),
        key === undefined ? Promise.resolve(null) : emailIpWait(key),
      ]);
      if (ipWaitMs === null && pairWaitMs === null) return { allowed: true };
      if (pairWaitMs !== null && (ipWaitMs === null || pairWaitMs > ipWaitMs)) {
        return { allowed: false, retryAfterSeconds: retryAfterSeconds(pairWaitMs), limitedBy: 'email-ip' };
      }
      return { allowed: false, retryAfterSeconds: retryAfterSeconds(ipWaitMs ?? 0), limitedBy: 'ip' };
    },

    async recordFailure(attempt) {
      const key = emailIpKey(attempt);
      // penalty() adds points without rejecting when over the limit.
      if (key !== undefined) await perEmailIp.penalty(key, 1);
    },

    async recordSuccess(attempt) {
      const key = emailIpKey(attempt);
      if (key !== undefined) await perEmailIp.delete(key);
    },

    async close() {
      // Nothing owned: in-memory timers are unref'd, a Redis client belongs to the caller.
    },
  };
}
