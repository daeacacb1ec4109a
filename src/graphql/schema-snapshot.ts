import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema as buildSdlSchema, findBreakingChanges, lexicographicSortSchema, printSchema, type BreakingChange } from 'graphql';

import { projectRoot } from '../util/project-root.js';
import { buildSchema } from './schema.js';

/**
 * The committed snapshot of the public schema (docs/schema.graphql). CI
 * fails when the SDL and the snapshot differ, and the snapshot command
 * refuses to record a breaking change unless told it is intended: additive
 * changes are routine, removals need a deliberate, reviewed step.
 */
export const SNAPSHOT_PATH = path.join(projectRoot(), 'docs', 'schema.graphql');

/** The current schema as SDL, sorted so the snapshot diff shows only real changes. */
export function printCurrentSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}

export function readSnapshot(): string | undefined {
  try {
    return readFileSync(SNAPSHOT_PATH, 'utf8');
  } catch {
    return undefined;
  }
}

/** Changes from the snapshot to the current schema that could break existing clients. */
export function breakingChanges(snapshot: string, current: string): BreakingChange[] {
  return findBreakingChanges(buildSdlSchema(snapshot), buildSdlSchema(current));
}
