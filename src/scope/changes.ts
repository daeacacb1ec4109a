import type { UnitState } from '../db/unit-state.js';
import { afterCommit } from '../db/unit-of-work.js';
import type { Scope } from './scope.js';

/**
 * What a committed write changed, told to whoever keeps a derived copy of
 * the data (a response cache, a search index, an event stream). A service
 * records a change for every row it writes whose public picture changes;
 * the feed hears of it only after the unit of work commits, so a rolled
 * back write is never announced and a reader after the announcement sees
 * the new rows. A change inside a savepoint that is later rolled back is
 * still announced: listeners must treat a change as "may have changed".
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

const pending = new WeakMap<UnitState, Change[]>();

/**
 * Records changes for the scope's change feed (`scope.deps.changes`). Inside
 * a unit of work they are published together after its commit; outside one
 * the write has committed already, so they are published at once. Without a
 * feed this does nothing.
 */
export async function recordChanges(scope: Scope, ...changes: Change[]): Promise<void> {
  const feed = scope.deps.changes;
  if (!feed || changes.length === 0) return;
  const unit = scope.unit;
  if (!unit) {
    await afterCommit(scope, () => feed.publish(changes));
    return;
  }
  const list = pending.get(unit);
  if (list) {
    list.push(...changes);
    return;
  }
  const fresh = [...changes];
  pending.set(unit, fresh);
  await afterCommit(scope, () => {
    pending.delete(unit);
    return feed.publish(fresh);
  });
}
