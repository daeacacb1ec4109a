/**
 * Which stored responses a committed write drops: each change kind maps to
 * tags (the vocabulary is in ./tag-names.ts) through the descriptor of the
 * module that records it (`changeTags`, src/modules/module.ts).
 */
import { changeTags } from '../modules/registry.js';
import type { Change } from '../scope/changes.js';

/** Every tag a change invalidates. */
export function tagsOfChange(change: Change): string[] {
  return changeTags(change);
}

/** The distinct tags of a batch of changes. */
export function tagsOfChanges(changes: readonly Change[]): string[] {
  const tags = new Set<string>();
  for (const change of changes) for (const tag of tagsOfChange(change)) tags.add(tag);
  return [...tags];
}
