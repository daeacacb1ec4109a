import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import type { Variable } from '../../src/config/variable.js';
import { ENV_EXAMPLE_PATH, REFERENCE_PATH, REGENERATE_COMMAND, renderEnvExample, renderReference } from '../../src/config/reference.js';
import { LIBRARY_VARIABLES, VARIABLES, type VariableName } from '../../src/config/variables.js';
import { projectRoot } from '../../src/util/project-root.js';

function committed(file: string): string {
  try {
    return readFileSync(path.join(projectRoot(), file), 'utf8');
  } catch {
    return '';
  }
}

function expectGenerated(file: string, generated: string): void {
  if (committed(file) !== generated) {
    throw new Error(`${file} differs from what src/config/variables/ declares: run \`${REGENERATE_COMMAND}\` and commit the result`);
  }
}

/** Names of environment variables the source reads by name (`process.env['X']`, `env.X`, `isSet('X')`). */
function variablesReadIn(dir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const source = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
    for (const match of source.matchAll(/\benv(?:\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]|\.([A-Z][A-Z0-9_]*)\b)|\bisSet\(\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\)/g)) {
      names.add((match[1] ?? match[2] ?? match[3])!);
    }
  }
  return names;
}

const NAMES = Object.keys(VARIABLES) as VariableName[];

describe('configuration reference', () => {
  it('is generated: docs/reference/configuration.md is what the declarations produce', () => {
    expectGenerated(REFERENCE_PATH, renderReference());
  });

  it('is generated: .env.example lists every variable the declarations produce', () => {
    expectGenerated(ENV_EXAMPLE_PATH, renderEnvExample());
    for (const name of NAMES) expect(committed(ENV_EXAMPLE_PATH)).toContain(`# ${name}=`);
  });

  it('tells which command regenerates it when it is stale', () => {
    expect(() => expectGenerated(REFERENCE_PATH, `${renderReference()}\nedited by hand\n`)).toThrow(`run \`${REGENERATE_COMMAND}\``);
  });

  it('declares every variable the source reads by name', () => {
    const declared = new Set<string>([...NAMES, ...LIBRARY_VARIABLES.map((variable) => variable.name)]);
    const read = [...variablesReadIn(path.join(projectRoot(), 'src'))];
    // The scan finds what it should (names read outside the loader, and the ones defaults look at).
    expect(read).toEqual(expect.arrayContaining(['DATABASE_URL', 'NODE_ENV', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT']));
    const undeclared = read.filter((name) => !declared.has(name));
    expect(undeclared).toEqual([]);
  });

  it('declares fixed defaults that their own schema accepts', () => {
    for (const name of NAMES) {
      const variable: Variable<unknown> = VARIABLES[name];
      if (variable.fixedSchema === undefined || variable.fixedDefault === undefined || variable.fixedDefault === '') continue;
      expect({ name, success: variable.fixedSchema.safeParse(variable.fixedDefault).success }).toEqual({ name, success: true });
    }
  });

  it('documents each variable once, in a section, with a meaning', () => {
    const reference = committed(REFERENCE_PATH);
    for (const name of NAMES) {
      expect(reference.match(new RegExp(`^\\| \`${name}\` \\|`, 'gm'))).toHaveLength(1);
      expect(VARIABLES[name].about.length).toBeGreaterThan(5);
    }
  });
});
