/**
 * The retry schedule of a delivery: exponential backoff with jitter over
 * about three days. After failed attempt n (1-based) the next one waits
 * `base * 4^(n-1)`, capped at 20 hours, times a random factor in [0.8, 1.2).
 * With the default base of 5 s: 5 s, 20 s, 80 s, 5 min, 21 min, 85 min,
 * 5.7 h, 20 h, 20 h, 20 h: eleven attempts over about 2.8 days, then the
 * delivery is FAILED. A `Retry-After` from a 429 or 503 replaces the wait
 * when it is longer (up to a day). Tests shrink the base
 * (`WEBHOOK_RETRY_BASE_MS`); the shape stays the same.
 */

export const MAX_ATTEMPTS = 11;
const FACTOR = 4;
const CAP_MS = 20 * 3600 * 1000;

/** The wait before the attempt after failed attempt `attempt`, or `null` when none is left. */
export function nextDelayMs(attempt: number, baseMs: number, options: { retryAfterMs?: number; random?: () => number } = {}): number | null {
  if (attempt >= MAX_ATTEMPTS) return null;
  const exponential = Math.min(CAP_MS, baseMs * FACTOR ** (attempt - 1));
  const jittered = Math.round(exponential * (0.8 + 0.4 * (options.random ?? Math.random)()));
  return Math.max(jittered, options.retryAfterMs ?? 0);
}

/** The schedule without jitter, for the documentation and its test. */
export function schedule(baseMs: number): number[] {
  return Array.from({ length: MAX_ATTEMPTS - 1 }, (_, index) => Math.min(CAP_MS, baseMs * FACTOR ** index));
}
