/**
 * No source file over MAX_LINES lines in src/ or test/: a file that long
 * holds more than one reason to change, and is split by those reasons.
 *
 * Generated files are excepted: the outputs codegen.yml declares under
 * `generates` (written by `npm run codegen`, never edited by hand, kept fresh
 * by `npm run codegen:check`), and the files other generators write whose
 * freshness a test checks (OTHER_GENERATED). Nothing else is excepted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

import { projectRoot } from '../../src/util/project-root.js';

const MAX_LINES = 400;
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const root = projectRoot();
/** Generated outside codegen.yml, each kept fresh by the test named. */
const OTHER_GENERATED: Record<string, string> = {
  'test/clients/rest/v1.ts': 'test/clients/rest-client.test.ts (openapi-typescript over /v1/openapi.json)',
};

/** The files codegen.yml writes, relative to the project root. */
function generatedFiles(): Set<string> {
  const config = parse(readFileSync(path.join(root, 'codegen.yml'), 'utf8')) as { generates?: Record<string, unknown> };
  return new Set(Object.keys(config.generates ?? {}).map((file) => path.normalize(file)));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)));
}

function lineCount(file: string): number {
  const text = readFileSync(path.join(root, file), 'utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

describe('file size', () => {
  it(`keeps every source file in src/ and test/ at ${MAX_LINES} lines or fewer (codegen.yml outputs excepted)`, () => {
    const generated = new Set([...generatedFiles(), ...Object.keys(OTHER_GENERATED).map((file) => path.normalize(file))]);
    const files = [...sourceFiles('src'), ...sourceFiles('test')].filter((file) => !generated.has(path.normalize(file)));
    const over = files
      .map((file) => ({ file, lines: lineCount(file) }))
      .filter(({ lines }) => lines > MAX_LINES)
      .sort((a, b) => b.lines - a.lines)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(over).toEqual([]);
  });

  it('excepts the generated resolver types, and finds them where codegen.yml writes them', () => {
    const generated = generatedFiles();
    expect([...generated]).toContain(path.normalize('src/graphql/generated/resolvers-types.ts'));
    expect(sourceFiles('src')).toContain(path.normalize('src/graphql/generated/resolvers-types.ts'));
  });
});
