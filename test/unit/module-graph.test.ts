/**
 * No cycles between modules: module A may use module B (its services, loaders,
 * table types) only if B uses nothing of A, directly or through other
 * modules. A field that joins two modules' types lives in an extension file
 * owned by the module that knows the relation (schema/users.orders.graphql:
 * the orders module owns `User.orders`), so the dependency points one way.
 * Every kind of import counts, type-only imports and re-exports included.
 */
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { findCircles, importGraph, SRC, type ImportGraph } from '../helpers/import-graph.js';

const MODULES = path.join(SRC, 'modules');

/** The module a file belongs to (`src/modules/<name>/...`), or undefined for files outside a module folder. */
function moduleOf(file: string): string | undefined {
  const relative = path.relative(MODULES, file);
  if (relative.startsWith('..')) return undefined;
  const parts = relative.split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
}

/** Module -> modules it imports from, built from the file graph. */
function moduleGraph(files: ImportGraph): ImportGraph {
  const edges = new Map<string, Set<string>>();
  for (const [file, targets] of files) {
    const from = moduleOf(file);
    if (from === undefined) continue;
    const out = edges.get(from) ?? new Set<string>();
    edges.set(from, out);
    for (const target of targets) {
      const to = moduleOf(target);
      if (to !== undefined && to !== from) out.add(to);
    }
  }
  return new Map([...edges].map(([module, targets]) => [module, [...targets].sort()] as const));
}

describe('the module graph of src/modules/', () => {
  const graph = moduleGraph(importGraph());

  it('has no cycles between modules, counting type-only imports', () => {
    // Sanity: the walk sees real cross-module edges.
    expect(graph.get('orders')).toContain('products');
    expect(findCircles(graph).map((circle) => circle.join(' -> '))).toEqual([]);
  });

  it('sees a cycle between two module folders through any of their files', () => {
    const files: ImportGraph = new Map([
      [path.join(MODULES, 'a', 'a.service.ts'), [path.join(MODULES, 'b', 'b.loaders.ts')]],
      [path.join(MODULES, 'b', 'b.loaders.ts'), []],
      [path.join(MODULES, 'b', 'b.resolvers.ts'), [path.join(MODULES, 'c', 'c.table.ts')]],
      [path.join(MODULES, 'c', 'c.table.ts'), [path.join(MODULES, 'a', 'a.table.ts')]],
      [path.join(MODULES, 'a', 'a.table.ts'), []],
      [path.join(MODULES, 'registry.ts'), [path.join(MODULES, 'a', 'a.service.ts')]],
    ]);
    expect(findCircles(moduleGraph(files))).toEqual([['a', 'b', 'c', 'a']]);
  });
});
