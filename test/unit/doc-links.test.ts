/**
 * Every relative link of README.md and docs/**\/*.md points at a file of the
 * repository, and every `#anchor` at a heading of its target page (GitHub's
 * heading ids: lower case, punctuation dropped, spaces as hyphens, `-1`,
 * `-2` for repeats). Links inside code blocks and inline code are not links.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { projectRoot } from '../../src/util/project-root.js';
import { documentationFiles } from '../helpers/doc-files.js';

/** The page's text outside fenced code blocks and inline code. */
function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line.replace(/`[^`]*`/g, '``');
    })
    .join('\n');
}

/** GitHub's id for a heading's text. */
function headingId(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  // A heading's inline code keeps its text in the id (`## The `node` field` -> the-node-field).
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = !inFence && /^#{1,6} (.+)$/.exec(line);
    if (!heading) continue;
    const base = headingId(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

describe('links in the documentation', () => {
  const root = projectRoot();
  const files = documentationFiles();

  it('computes GitHub heading ids', () => {
    expect(headingId('Shutdown and faults')).toBe('shutdown-and-faults');
    expect(headingId('Keyset pagination on (sort key, id)')).toBe('keyset-pagination-on-sort-key-id');
    expect(headingId('graphql-shield on Node 24')).toBe('graphql-shield-on-node-24');
    expect([...anchorsOf('## A\n## A\n')]).toEqual(['a', 'a-1']);
  });

  it(`resolve to files and headings of the repository (${files.length} pages)`, () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      const text = prose(readFileSync(path.join(root, file), 'utf8'));
      for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1] as string;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        checked += 1;
        const [pathPart = '', anchor] = target.split('#');
        const resolved = pathPart === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(pathPart));
        if (!resolved.startsWith(root + path.sep) && resolved !== root) {
          broken.push(`${file}: ${target} leaves the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          broken.push(`${file}: ${target} does not exist`);
          continue;
        }
        if (anchor !== undefined && anchor !== '') {
          if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
            broken.push(`${file}: ${target} has an anchor but is not a Markdown page`);
            continue;
          }
          if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${file}: ${target}: no heading #${anchor}`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});
