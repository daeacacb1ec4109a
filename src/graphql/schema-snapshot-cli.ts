/**
 * `npm run schema:snapshot` writes docs/schema.graphql from schema/*.graphql.
 * With breaking changes it refuses, unless run with `-- --allow-breaking`
 * (after the removed or changed fields went through `@deprecated`).
 */
import { writeFileSync } from 'node:fs';

import { breakingChanges, printCurrentSchema, readSnapshot, SNAPSHOT_PATH } from './schema-snapshot.js';

const current = printCurrentSchema();
const snapshot = readSnapshot();
const breaking = snapshot === undefined ? [] : breakingChanges(snapshot, current);
if (breaking.length > 0 && !process.argv.includes('--allow-breaking')) {
  console.error('Breaking schema changes (clients may fail):');
  for (const change of breaking) console.error(`  - ${change.type}: ${change.description}`);
  console.error('Deprecate first; to record them anyway: npm run schema:snapshot -- --allow-breaking');
  process.exit(1);
}
writeFileSync(SNAPSHOT_PATH, current);
console.log(snapshot === current ? 'Schema snapshot is up to date.' : `Wrote ${SNAPSHOT_PATH}`);
process.exit(0);
