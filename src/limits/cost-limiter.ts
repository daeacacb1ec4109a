/**
 * The query-cost budget of each principal (rate-limiter-flexible, fixed
 * window): the requested cost is charged before the operation runs and the
 * part it did not use is refunded afterwards, as Shopify does.
 *
 * Store: in memory (per instance) by default; Redis when a client is given,
 * so a principal's budget holds across server instances. Redis unreachable:
 * each instance answers from an in-memory insurance limiter with the same
 * budget (the server keeps serving; a principal may then spend up to one
 * budget per instance until Redis answers again). `logRedisAvailability`
 * logs the switch both ways.
 */
import { createHash } from 'node:crypto';

import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import type { RateLimitConfig } from '../config/config.js';
import type { Redis } from '../redis/client.js';

export interface BudgetState {
  /** Points left in the current window. */
  remaining: number;
  /** Whole seconds until the window ends and the budget is full again. */
  resetSeconds: number;
}

export type ChargeResult =
  | (BudgetState & { allowed: true; /** When the charged window ends (epoch ms); a refund after it is void. */ windowEndsAt: number })
  | (BudgetState & { allowed: false; /** Whole seconds before this cost fits the budget again. */ retryAfterSeconds: number });

export interface CostLimiter {
  readonly budget: number;
  readonly windowSeconds: number;
  /** Takes `points` from the principal's budget, or takes nothing and refuses when they do not fit. */
  charge(principal: string, points: number): Promise<ChargeResult>;
  /** Gives back unused points of a charge in the same window; null when the window has already ended. */
  refund(principal: string, points: number, windowEndsAt: number): Promise<BudgetState | null>;
}

export interface CostLimiterOptions extends RateLimitConfig {
  /** Shared store; absent: in memory, per instance. */
  redis?: Redis;
  /** Prefix of the store keys; default `query-cost`. */
  keyPrefix?: string;
}

/** Keys never hold raw identifiers (IP addresses, user ids): SHA-256, first 32 hex digits. */
function storeKey(principal: string): string {
  return createHash('sha256').update(principal, 'utf8').digest('hex').slice(0, 32);
}

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function createCostLimiter(options: CostLimiterOptions): CostLimiter {
  const { budget, windowSeconds } = options;
  const base = { keyPrefix: options.keyPrefix ?? 'query-cost', points: budget, duration: windowSeconds };
  const limiter: RateLimiterAbstract = options.redis
    ? new RateLimiterRedis({
        ...base,
        storeClient: options.redis,
        // Not connected: straight to the insurance limiter instead of waiting.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(base),
      })
    : new RateLimiterMemory(base);

  return {
    budget,
    windowSeconds,

    async charge(principal, points) {
      const key = storeKey(principal);
      try {
        const res = await limiter.consume(key, points);
        return {
          allowed: true,
          remaining: res.remainingPoints,
          resetSeconds: seconds(res.msBeforeNext),
          windowEndsAt: Date.now() + res.msBeforeNext,
        };
      } catch (rejection: unknown) {
        // Anything but a RateLimiterRes is a store failure the insurance limiter did not absorb.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        // consume() counted the points although it refused them: a refused request costs nothing.
        const after = await limiter.reward(key, points);
        const resetSeconds = seconds(rejection.msBeforeNext);
        return {
          allowed: false,
          remaining: after.remainingPoints,
          resetSeconds,
          retryAfterSeconds: Math.max(1, resetSeconds),
        };
      }
    },

    async refund(principal, points, windowEndsAt) {
      if (Date.now() >= windowEndsAt) return null;
      const res = points > 0 ? await limiter.reward(storeKey(principal), points) : await limiter.get(storeKey(principal));
      if (res === null) return null;
      return { remaining: Math.min(res.remainingPoints, budget), resetSeconds: seconds(res.msBeforeNext) };
    },
  };
}
