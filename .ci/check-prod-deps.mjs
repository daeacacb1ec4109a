// Production start never needs a development dependency: walks the static
// imports of the compiled entry points (the server, the db:* and db:transition commands) and
// fails if any package they load is not in package.json `dependencies`.
// Dynamic import() is not followed: that is how the embedded PostgreSQL (a
// devDependency) is loaded, only when DATABASE_URL is unset.
// Run after `npm run build`.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { dependencies = {} } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const entries = ['dist/src/main.js', 'dist/src/db/cli.js', 'dist/src/transitions/cli.js'];
const STATIC_IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;

const seen = new Set();
const problems = [];
const queue = entries.map((entry) => path.join(root, entry));
while (queue.length > 0) {
  const file = queue.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  if (!existsSync(file)) {
    problems.push(`missing file ${path.relative(root, file)} (run npm run build first)`);
    continue;
  }
  for (const match of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
    const specifier = match[1] ?? match[2];
    if (specifier.startsWith('.')) {
      queue.push(path.resolve(path.dirname(file), specifier));
      continue;
    }
    if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
    const parts = specifier.split('/');
    const pkg = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    if (!(pkg in dependencies)) problems.push(`${path.relative(root, file)} imports ${specifier}, which is not a production dependency`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`production imports: ${seen.size} compiled modules load only production dependencies`);
