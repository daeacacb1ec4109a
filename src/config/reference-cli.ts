/**
 * `npm run config:docs` writes docs/reference/configuration.md and
 * .env.example from the declared variables (src/config/variables/).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { ENV_EXAMPLE_PATH, REFERENCE_PATH, renderEnvExample, renderReference } from './reference.js';

function current(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

for (const [file, content] of [
  [REFERENCE_PATH, renderReference()],
  [ENV_EXAMPLE_PATH, renderEnvExample()],
] as const) {
  if (current(file) === content) {
    console.log(`${file} is up to date.`);
    continue;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  console.log(`Wrote ${file}`);
}
