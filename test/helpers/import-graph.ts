/**
 * The import graph of src/, read with the TypeScript compiler
 * (`preProcessFile` sees `import type` and `export ... from` too) and
 * resolved as tsc does; used by the file-circle and module-cycle tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import ts from 'typescript';

import { projectRoot } from '../../src/util/project-root.js';

export const root = projectRoot();
export const SRC = path.join(root, 'src');

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

const compilerOptions: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };

/** Files of `within` that `file` imports, by any kind of import or re-export. */
export function importsOf(file: string, within: ReadonlySet<string>): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets = new Set<string>();
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const resolved = ts.resolveModuleName(fileName, file, compilerOptions, ts.sys, undefined, undefined, ts.ModuleKind.ESNext).resolvedModule;
    const target = resolved ? path.resolve(resolved.resolvedFileName) : undefined;
    if (target && within.has(target)) targets.add(target);
  }
  return [...targets].sort();
}

export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** One circle per strongly connected component (Tarjan), as a path that starts and ends at the same file. */
export function findCircles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => circleThrough(graph, new Set(component)));
}

/** A shortest path from the component's first file (by name) back to itself, staying inside the component. */
function circleThrough(graph: ImportGraph, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0] ?? '';
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() ?? start;
    for (const next of graph.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const route = [node];
        while (route[0] !== start) route.unshift(previous.get(route[0] ?? '') ?? start);
        return [...route, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

/** The import graph of every .ts file under `dir`, by absolute path. */
export function importGraph(dir: string = SRC): Map<string, string[]> {
  const files = sourceFiles(dir);
  const within = new Set(files.map((file) => path.resolve(file)));
  return new Map(files.map((file) => [path.resolve(file), importsOf(file, within)] as const));
}
