/**
 * Which commit the N-1 job treats as "the release still running" while the
 * new schema is applied, found from git alone (a CI clone may carry no tags):
 *
 *   1. the newest release tag `vX.Y.Z` reachable from HEAD that is not HEAD
 *      itself (when HEAD is the release being cut, the one before it);
 *   2. otherwise the parent of the newest commit on the first-parent line
 *      of HEAD (main's own commits and merges) that added a migration file
 *      (`migrations/<digit>*.ts`): the code main ran before the newest
 *      migration reached it. For a merged branch that is main before the
 *      merge, never a commit of the branch, which never ran anywhere (and
 *      may not even be the code that was merged). A renamed migration file
 *      counts as added (`--no-renames`): the migrator records migrations by
 *      name, so to it that is a new one.
 *
 * A shallow clone fails outright: its cut-off commit looks as if it added
 * every file, which would silently pick a wrong baseline.
 */

import { execFileSync } from 'node:child_process';

/** Runs `git <args>` in the repository and returns its trimmed standard output; throws when git fails. */
export type Git = (args: readonly string[]) => string;

/** A Git runner in `dir`; a failing command throws with git's own first line of complaint. */
export function gitIn(dir: string): Git {
  return (args) => {
    try {
      return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      const said = typeof stderr === 'string' ? stderr.trim().split('\n')[0] : '';
      throw new Error(`git ${args.join(' ')} failed${said ? `: ${said}` : ''}`, { cause: error });
    }
  };
}

export interface Baseline {
  /** Full commit id. */
  commit: string;
  /** One line: how it was chosen, e.g. "release tag v0.1.0" or "before 2026_12_07_0014_x (90d8640)". */
  reason: string;
}

/** The baseline cannot be determined; the message is one line, meant to end the job. */
export class BaselineError extends Error {
  override name = 'BaselineError';
}

/** Release tags only: a pre-release or any other `v*` tag is no release the next one must stay compatible with. */
export const RELEASE_TAG = /^v(\d+)\.(\d+)\.(\d+)$/;

/** Files the migrator loads (the helpers beside them, index.ts and squawk-exceptions.ts, are no migrations). */
export const MIGRATION_PATHSPEC = ':(glob)migrations/[0-9]*.ts';

function versionOf(tag: string): [number, number, number] {
  const match = RELEASE_TAG.exec(tag);
  if (!match) throw new Error(`not a release tag: ${tag}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function newerFirst(a: string, b: string): number {
  const [x, y] = [versionOf(a), versionOf(b)];
  for (let i = 0; i < 3; i += 1) if (x[i] !== y[i]) return (y[i] as number) - (x[i] as number);
  return 0;
}

function short(commit: string): string {
  return commit.slice(0, 7);
}

export function findBaseline(git: Git): Baseline {
  if (git(['rev-parse', '--is-shallow-repository']) === 'true') {
    throw new BaselineError('N-1: the clone is shallow, so the previous release cannot be found (clone with full history, or run git fetch --unshallow --tags)');
  }
  const head = git(['rev-parse', 'HEAD^{commit}']);

  const tags = git(['tag', '--merged', 'HEAD', '--list', 'v*'])
    .split('\n')
    .map((line) => line.trim())
    .filter((tag) => RELEASE_TAG.test(tag))
    .sort(newerFirst);
  for (const tag of tags) {
    const commit = git(['rev-parse', `refs/tags/${tag}^{commit}`]);
    if (commit !== head) return { commit, reason: `release tag ${tag}` };
  }

  const added = git(['log', '--first-parent', '--no-renames', '--diff-filter=A', '--format=%H', '-n', '1', 'HEAD', '--', MIGRATION_PATHSPEC]);
  if (added === '') {
    throw new BaselineError('N-1: no release tag vX.Y.Z before HEAD and no commit that added a migration (migrations/<digit>*.ts): nothing to compare against');
  }
  let parent: string;
  try {
    parent = git(['rev-parse', '--verify', '--quiet', `${added}^1`]);
  } catch {
    parent = '';
  }
  if (parent === '') {
    throw new BaselineError(`N-1: no release tag vX.Y.Z before HEAD, and the newest migration came with the first commit (${short(added)}): no code ran before it`);
  }
  // Against the first parent: for a merge, what the merge brought to main.
  const files = git(['diff', '--no-renames', '--diff-filter=A', '--name-only', parent, added, '--', MIGRATION_PATHSPEC])
    .split('\n')
    .filter(Boolean)
    .map((file) => file.replace(/^migrations\//, '').replace(/\.ts$/, ''));
  return { commit: parent, reason: `no release tag before HEAD; the code before ${files.join(', ')} (added in ${short(added)})` };
}
