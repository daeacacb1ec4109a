/**
 * The phases of a schema change made in phases, and what an instance knows
 * of them (./transition.ts explains them). Imports nothing, so the scope
 * (src/scope/scope.ts) can carry the states without an import circle.
 */

/** `<module>.<name>`, e.g. `products.soldCount`. */
export type TransitionName = `${string}.${string}`;

export const TRANSITION_PHASES = ['before', 'expanded', 'backfilled', 'switched', 'contracted'] as const;
export type TransitionPhase = (typeof TRANSITION_PHASES)[number];

/** What this instance knows of each declared transition's phase (./watcher.ts). */
export interface TransitionStates {
  /** `undefined` while this instance has not been able to read it yet (database unreachable since start). */
  phase(name: TransitionName): TransitionPhase | undefined;
}
