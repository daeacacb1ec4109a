/**
 * Brute-force protection for `logIn`, `signUp` and `changePassword`
 * (rate-limiter-flexible). Only failures count: a correct password is never
 * refused because of what other accounts did from the same IP, except under
 * the credential-stuffing rule below. Two fixed-window rules:
 *
 *   - account guessing, per (email, IP): after `perEmailIp` failures in 15
 *     minutes (LOGIN_LIMIT_PER_EMAIL_IP), that email is refused from that IP,
 *     correct password included, until the window ends. A success resets it.
 *   - credential stuffing, per IP: after `perIp` failures in an hour across
 *     all emails (LOGIN_LIMIT_PER_IP), the IP is refused for every attempt,
 *     correct passwords included, until the window ends. One account alone
 *     cannot get there quickly (the first rule stops it at `perEmailIp` per
 *     15 minutes), so reaching it means failures spread over several
 *     accounts: stuffing leaked credentials or spraying common passwords.
 *
 * Successes cost nothing, so a whole office behind one NAT address can log
 * in all day; its occasional typos count towards the IP rule only.
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
 * Sign-up uses the same limiter: a rejected sign-up (e.g. the email is taken)
 * is a failure, an account created is a success.
 *
 * Store: in memory (per instance) by default; Redis when a client is given, so
 * the limits hold across server instances. A Redis error (down, timeout) falls
 * back to an in-memory insurance limiter: an outage degrades to per-instance
 * limits instead of failing log-ins.
 *
 * Keys never hold raw request input: the email (trimmed, lower-cased) and the
 * IP are hashed (SHA-256, first 32 hex digits).
 *
 * Concurrency: `check` takes the (email, IP) point atomically and up front (a
 * success gives it back by resetting the pair), so parallel guesses at one
 * account cannot pass that budget. The per-IP count is only read in `check`
 * and raised by `recordFailure`, so attempts already in flight from one IP
 * can pass it by their number; holding a point for each attempt in flight
 * would instead refuse a busy office's correct passwords.
 */
import { createHash } from 'node:crypto';

import type { Redis } from '../redis/client.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** Window of the per-(email, IP) failure budget. */
export const EMAIL_IP_WINDOW_SECONDS = 15 * 60;
/** Window of the per-IP failure budget (credential stuffing). */
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
      /** Which rule refused it: 'ip' is the credential-stuffing rule; for logs, not for clients. */
      limitedBy: 'ip' | 'email-ip';
    };

export interface BruteForceLimiter {
  /**
   * Not allowed when the IP is blocked for credential stuffing or the
   * (email, IP) pair has used its failures; otherwise takes the pair's point
   * for this attempt (kept if it fails, given back if it succeeds).
   * Rejects only when the store itself fails (never with a "limited" value).
   */
  check(attempt: LoginAttempt): Promise<LimitDecision>;
  /** After a failed attempt (wrong password, unknown email, sign-up refused): one point of the IP's failure budget. */
  recordFailure(attempt: LoginAttempt): Promise<void>;
  /** After a successful attempt: resets the (email, IP) failure counter. Costs nothing. */
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
  /** Failed attempts per IP per hour, across emails, before the IP is blocked (config.loginLimitPerIp). */
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
    // No in-memory block cache: a success on another instance must reset a pair here at once.
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
  });
  const perEmailIp = makeLimiter(options.redis, {
    keyPrefix: `${prefix}:email-ip`,
    points: options.perEmailIp,
    duration: EMAIL_IP_WINDOW_SECONDS,
  });

  /** Milliseconds until the IP's block for credential stuffing ends, or null when it is not blocked. */
  async function ipBlockedFor(ip: string): Promise<number | null> {
    const state = await perIp.get(ipKey(ip));
    if (state === null || state.consumedPoints < options.perIp) return null;
    return state.msBeforeNext;
  }

  /** Takes the pair's point; milliseconds until the pair may try again when it had none left, else null. */
  async function takePairPoint(key: string): Promise<number | null> {
    try {
      await perEmailIp.consume(key, 1);
      return null;
    } catch (rejection: unknown) {
      // Over the limit: rate-limiter-flexible rejects with a RateLimiterRes.
      // Anything else is a store failure and must not pass for "limited".
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
  }

  return {
    async check(attempt) {
      const ipWaitMs = await ipBlockedFor(attempt.ip);
      if (ipWaitMs !== null) return { allowed: false, retryAfterSeconds: retryAfterSeconds(ipWaitMs), limitedBy: 'ip' };
      const key = emailIpKey(attempt);
      const pairWaitMs = key === undefined ? null : await takePairPoint(key);
      if (pairWaitMs !== null) return { allowed: false, retryAfterSeconds: retryAfterSeconds(pairWaitMs), limitedBy: 'email-ip' };
      return { allowed: true };
    },

    async recordFailure(attempt) {
      // penalty() adds points without rejecting when over the limit.
      await perIp.penalty(ipKey(attempt.ip), 1);
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
