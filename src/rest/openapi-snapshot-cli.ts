/**
 * `npm run openapi:snapshot` writes docs/openapi/v1.json from rest/v1/ and
 * the schema. A change that breaks clients of the snapshot is recorded only
 * with `-- --allow-breaking` and a CHANGELOG.md line naming each id in
 * backticks; the usual answer to a breaking change is a new version.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { CHANGELOG_PATH } from '../graphql/schema-snapshot.js';
import { breakingChanges, OPENAPI_SNAPSHOT_PATH, printCurrentOpenApi, readOpenApiSnapshot, unloggedBreakingChanges } from './openapi-snapshot.js';
import type { OpenApiDocument } from './openapi.js';

const current = printCurrentOpenApi();
const snapshot = readOpenApiSnapshot();
const changes = snapshot === undefined ? [] : breakingChanges(JSON.parse(snapshot) as OpenApiDocument, JSON.parse(current) as OpenApiDocument);
for (const change of changes) console.log(`  BREAKING \`${change.id}\`: ${change.message}`);
if (changes.length > 0) {
  const unlogged = unloggedBreakingChanges(changes, readFileSync(CHANGELOG_PATH, 'utf8'));
  if (unlogged.length > 0 || !process.argv.includes('--allow-breaking')) {
    console.error('These changes break clients of the frozen REST version. Serve them in a new version; to record them anyway, name each id in backticks in CHANGELOG.md and run: npm run openapi:snapshot -- --allow-breaking');
    for (const id of unlogged) console.error(`  - \`${id}\` is not in CHANGELOG.md`);
    process.exit(1);
  }
}
writeFileSync(OPENAPI_SNAPSHOT_PATH, current);
console.log(snapshot === current ? 'OpenAPI snapshot is up to date.' : `Wrote ${OPENAPI_SNAPSHOT_PATH}`);
process.exit(0);
