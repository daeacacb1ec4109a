/**
 * `npm run schema:snapshot` writes docs/schema.graphql from schema/*.graphql.
 * A breaking or dangerous change (as @graphql-inspector/core classifies it)
 * is recorded only when CHANGELOG.md names its id in backticks; a breaking
 * one also needs `-- --allow-breaking` (after the removed or changed fields
 * went through `@deprecated`). Recorded ids go to docs/schema-changes.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import {
  ACKNOWLEDGED_PATH,
  CHANGELOG_PATH,
  describeChange,
  missingFromChangelog,
  printCurrentSchema,
  readAcknowledged,
  readSnapshot,
  schemaChanges,
  SNAPSHOT_PATH,
  type AcknowledgedChange,
} from './schema-snapshot.js';

const current = printCurrentSchema();
const snapshot = readSnapshot();
const changes = snapshot === undefined ? [] : await schemaChanges(snapshot, current);
for (const change of changes) console.log(`  ${describeChange(change)}`);
const unlogged = missingFromChangelog(changes, readFileSync(CHANGELOG_PATH, 'utf8'));
if (unlogged.length > 0) {
  console.error('Breaking or dangerous schema changes need a line in CHANGELOG.md naming each id in backticks:');
  for (const id of unlogged) console.error(`  - \`${id}\``);
  process.exit(1);
}
const breaking = changes.filter((change) => change.level === 'breaking');
if (breaking.length > 0 && !process.argv.includes('--allow-breaking')) {
  console.error('Breaking schema changes (clients may fail). Deprecate first; to record them anyway: npm run schema:snapshot -- --allow-breaking');
  process.exit(1);
}
const recorded: AcknowledgedChange[] = changes.flatMap((change) => (change.level === 'safe' ? [] : [{ id: change.id, level: change.level, message: change.message }]));
if (recorded.length > 0) writeFileSync(ACKNOWLEDGED_PATH, `${JSON.stringify([...readAcknowledged(), ...recorded], null, 2)}\n`);
writeFileSync(SNAPSHOT_PATH, current);
console.log(snapshot === current ? 'Schema snapshot is up to date.' : `Wrote ${SNAPSHOT_PATH}`);
process.exit(0);
