/**
 * No import circles in src/, type-only imports included. ESLint's
 * `import-x/no-cycle` (eslint.config.js) catches runtime circles as the code
 * is written but skips `import type`; this test reads every file's imports
 * with the TypeScript compiler (`preProcessFile` sees `import type` and
 * `export ... from` too) and resolves them as tsc does, so a circle of types
 * between two layers fails here.
 */
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { findCircles, importGraph, root, SRC, type ImportGraph } from '../helpers/import-graph.js';

describe('the import graph of src/', () => {
  it('has no circles, counting type-only imports and re-exports', () => {
    const graph = importGraph();
    // The walk sees the application's real edges (a sanity check that resolution works).
    expect(graph.get(path.join(SRC, 'db', 'unit-of-work.ts'))).toContain(path.join(SRC, 'scope', 'scope.ts'));
    const circles = findCircles(graph).map((circle) => circle.map((file) => path.relative(root, file)).join(' -> '));
    expect(circles).toEqual([]);
  });

  it('finds a circle of type imports, and a file importing itself, but not a diamond', () => {
    const graph: ImportGraph = new Map([
      ['a', ['b', 'c']],
      ['b', ['d']],
      ['c', ['d']],
      ['d', []],
      ['e', ['f']],
      ['f', ['g']],
      ['g', ['e']],
      ['h', ['h']],
    ]);
    expect(findCircles(graph).sort()).toEqual([
      ['e', 'f', 'g', 'e'],
      ['h', 'h'],
    ]);
  });
});
