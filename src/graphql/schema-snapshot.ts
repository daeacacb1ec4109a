import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildSchema as buildSdlSchema, lexicographicSortSchema, printSchema } from 'graphql';

import { projectRoot } from '../util/project-root.js';
import { buildSchema } from './schema.js';

/**
 * The committed snapshot of the public schema (docs/schema.graphql) and the
 * gate on changing it. `@graphql-inspector/core` classifies each change from
 * the snapshot to the SDL as breaking, dangerous or safe. CI fails while the
 * SDL and the snapshot differ, naming each change and its class; the
 * snapshot command records a breaking or dangerous change only once
 * CHANGELOG.md names it by its id (a breaking one also needs
 * `--allow-breaking`), and keeps the ids it recorded in
 * docs/schema-changes.json, which a test holds against CHANGELOG.md.
 */
export const SNAPSHOT_PATH = path.join(projectRoot(), 'docs', 'schema.graphql');
/** Every breaking or dangerous change the snapshot command recorded, oldest first. */
export const ACKNOWLEDGED_PATH = path.join(projectRoot(), 'docs', 'schema-changes.json');
export const CHANGELOG_PATH = path.join(projectRoot(), 'CHANGELOG.md');

export type ChangeLevel = 'breaking' | 'dangerous' | 'safe';

export interface SchemaChange {
  /** `TYPE path`, e.g. `FIELD_REMOVED Product.title`: what CHANGELOG.md must name for a breaking or dangerous change. */
  id: string;
  level: ChangeLevel;
  message: string;
}

/** One recorded change, as kept in docs/schema-changes.json. */
export interface AcknowledgedChange {
  id: string;
  level: Exclude<ChangeLevel, 'safe'>;
  message: string;
}

const LEVELS: Record<CriticalityLevel, ChangeLevel> = {
  [CriticalityLevel.Breaking]: 'breaking',
  [CriticalityLevel.Dangerous]: 'dangerous',
  [CriticalityLevel.NonBreaking]: 'safe',
};

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

export function readAcknowledged(): AcknowledgedChange[] {
  try {
    return JSON.parse(readFileSync(ACKNOWLEDGED_PATH, 'utf8')) as AcknowledgedChange[];
  } catch {
    return [];
  }
}

function toSchemaChange(change: Change): SchemaChange {
  return {
    id: change.path ? `${String(change.type)} ${change.path}` : String(change.type),
    level: LEVELS[change.criticality.level],
    message: change.message,
  };
}

/** Every change from the snapshot to the current SDL, classified by @graphql-inspector/core. */
export async function schemaChanges(snapshot: string, current: string): Promise<SchemaChange[]> {
  const changes = await diff(buildSdlSchema(snapshot), buildSdlSchema(current));
  return changes.map(toSchemaChange);
}

/** The breaking and dangerous changes whose id CHANGELOG.md does not name (in backticks). */
export function missingFromChangelog(changes: readonly { id: string; level: ChangeLevel }[], changelog: string): string[] {
  return changes.filter((change) => change.level !== 'safe' && !changelog.includes(`\`${change.id}\``)).map((change) => change.id);
}

/** One line per change, for CI output and the snapshot command. */
export function describeChange(change: SchemaChange): string {
  return `${change.level.toUpperCase()} \`${change.id}\`: ${change.message}`;
}
