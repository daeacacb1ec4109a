/** The documentation pages the docs tests read: README.md and every Markdown file under docs/. */
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { projectRoot } from '../../src/util/project-root.js';

/** README.md and every Markdown file under docs/, as paths relative to the project root. */
export function documentationFiles(): string[] {
  const found = ['README.md'];
  const visit = (dir: string) => {
    for (const entry of readdirSync(path.join(projectRoot(), dir), { withFileTypes: true })) {
      const relative = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(relative);
      else if (entry.name.endsWith('.md')) found.push(relative);
    }
  };
  visit('docs');
  return found.sort();
}
