import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { buildASTSchema, isEnumType, parse, concatAST } from 'graphql';

import { errorCodes } from '../../src/errors/codes.js';
import { loadTypeDefs } from '../../src/graphql/schema.js';
import { projectRoot } from '../../src/util/project-root.js';

const docs = readFileSync(path.join(projectRoot(), 'docs', 'reference', 'errors.md'), 'utf8');

/** Codes in the first column of a markdown table under the given heading. */
function documentedCodes(heading: string): string[] {
  const section = docs.split(/^## /m).find((s) => s.startsWith(heading)) ?? '';
  return [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1] as string);
}

describe('error code registry', () => {
  it('documents every request-level code in docs/reference/errors.md, and nothing else', () => {
    expect(documentedCodes('Request-level codes').sort()).toEqual(Object.keys(errorCodes).sort());
  });

  it('documents the HTTP status the registry uses for each code', () => {
    for (const [code, { status }] of Object.entries(errorCodes)) {
      expect(docs).toContain(`| \`${code}\` | ${status} |`);
    }
  });

  it('documents every UserErrorCode enum value of the schema', () => {
    const schema = buildASTSchema(concatAST(loadTypeDefs().map((d) => (typeof d === 'string' ? parse(d) : d))));
    const type = schema.getType('UserErrorCode');
    if (!isEnumType(type)) throw new Error('UserErrorCode enum missing from the schema');
    expect(documentedCodes('`UserErrorCode` values').sort()).toEqual(type.getValues().map((v) => v.name).sort());
  });
});
