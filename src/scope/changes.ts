import { afterCommit } from '../db/unit-of-work.js';
import type { Change } from './change-feed.js';
import type { Scope } from './scope.js';

export type { Change, ChangeFeed } from './change-feed.js';

/**
 * Records changes for the scope's change feed (`scope.deps.changes`): a
 * service calls it for every row it writes whose public picture changes.
 * Inside a unit of work they join the unit's own list (`UnitState.changes`)
 * and the feed hears them after its commit, together, once, in the order
 * they were recorded, so a rolled back write is never announced and a reader
 * after the announcement sees the new rows. Changes recorded in a savepoint
 * part that rolled back are dropped with it; the unit's other changes are
 * still announced. Outside a unit the write has committed already, so they
 * are published at once. Without a feed this does nothing.
 */
export async function recordChanges(scope: Scope, ...changes: Change[]): Promise<void> {
  const feed = scope.deps.changes;
  if (!feed || changes.length === 0) return;
  if (scope.unit) scope.unit.changes.push(...changes);
  else await afterCommit(scope, () => feed.publish(changes));
}
