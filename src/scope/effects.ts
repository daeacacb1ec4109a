import type { Viewer } from '../auth/viewer.js';

/**
 * What a service asks its caller's transport to do, returned with its result
 * instead of touching HTTP itself. (A rate-limit refusal is an error, not a
 * result: the edge derives `Retry-After` from its `retryAfterSeconds`.) The GraphQL edge applies them to the
 * response (src/graphql/effects.ts); a job worker may ignore cookies.
 */
export type Effect =
  /** An httpOnly, Secure, SameSite=Strict cookie at Path=/. */
  | { kind: 'setCookie'; name: string; value: string; maxAgeSeconds: number }
  | { kind: 'clearCookie'; name: string }
  /** The rest of the work runs for this caller (after signing in). */
  | { kind: 'actAs'; viewer: Viewer };

/** The effects a transport applies to its response. */
export type TransportEffect = Exclude<Effect, { kind: 'actAs' }>;

/** A service result with the effects to apply. */
export type WithEffects<T> = T & { effects: Effect[] };

export const setCookie = (name: string, value: string, maxAgeSeconds: number): Effect => ({ kind: 'setCookie', name, value, maxAgeSeconds });
export const clearCookie = (name: string): Effect => ({ kind: 'clearCookie', name });
export const actAs = (viewer: Viewer): Effect => ({ kind: 'actAs', viewer });

export function hasEffects(value: unknown): value is { effects: Effect[] } {
  return typeof value === 'object' && value !== null && Array.isArray((value as { effects?: unknown }).effects);
}
