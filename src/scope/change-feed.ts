/**
 * What a committed write changed, told to whoever keeps a derived copy of
 * the data (a response cache, a search index, an event stream). Services
 * record changes with `recordChanges` (src/scope/changes.ts); the unit of
 * work keeps them on its own state and announces them after its commit.
 * This file imports nothing, so the scope, the unit of work and the feeds
 * can all name these types without importing one another.
 */
export type Change =
  /** Any column of the product, including stock, price, status, rating and soft deletion. */
  | { entity: 'product'; id: string }
  | { entity: 'category'; id: string }
  /** Public profile fields of a user (display name, role, deletion). */
  | { entity: 'user'; id: string }
  /** A review was created, edited, deleted or restored; its product's rating moved with it. */
  | { entity: 'review'; id: string; productId: string }
  | { entity: 'order'; id: string };

/** Receives the changes of each committed unit of work, once, in the order they were recorded. */
export interface ChangeFeed {
  publish(changes: readonly Change[]): void | Promise<void>;
}
