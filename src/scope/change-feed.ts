/**
 * What a committed write changed, told to whoever keeps a derived copy of
 * the data (a response cache, a search index, an event stream). Services
 * record changes with `recordChanges` (src/scope/changes.ts); the unit of
 * work keeps them on its own state and announces them after its commit.
 * This file imports nothing, so the scope, the unit of work and the feeds
 * can all name these types without importing one another.
 *
 * The kinds of change, by entity name: empty here, filled by the modules
 * (interface merging; see `Change`).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by module augmentation
export interface ChangeKinds {}

/**
 * One change, of a kind some module declares: each module augments
 * `ChangeKinds` from its `index.ts` with the kinds it records (the entity
 * name and the fields that identify the row), and maps each to the cache tags
 * it drops in its descriptor's `changeTags` (src/modules/module.ts).
 */
export type Change = { [K in keyof ChangeKinds]: { entity: K } & ChangeKinds[K] }[keyof ChangeKinds];

/** Receives the changes of each committed unit of work, once, in the order they were recorded. */
export interface ChangeFeed {
  publish(changes: readonly Change[]): void | Promise<void>;
}
