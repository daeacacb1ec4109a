/**
 * The N-1 job's choice of "the previous release" (.ci/n1/baseline.ts), on
 * small real git repositories built here: the newest release tag before
 * HEAD, else the code before the newest migration, and a one-line refusal
 * when neither can be known (a shallow clone, no migration at all).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { BaselineError, findBaseline, gitIn } from '../../.ci/n1/baseline.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A repository whose commits are one minute apart, so "newest" never depends on the clock. */
function repository() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'n1-baseline-'));
  made.push(dir);
  let minute = 0;
  const run = (...args: string[]): string => {
    const date = `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`;
    return execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'n1',
        GIT_AUTHOR_EMAIL: 'n1@example.test',
        GIT_COMMITTER_NAME: 'n1',
        GIT_COMMITTER_EMAIL: 'n1@example.test',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
      },
    }).trim();
  };
  run('init', '--quiet', '--initial-branch=main');
  const repo = {
    dir,
    git: gitIn(dir),
    run,
    /** Writes the files (path → content) and commits them; returns the commit id. */
    commit(message: string, files: Record<string, string>): string {
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), content);
      }
      minute += 1;
      run('add', '--all');
      run('commit', '--quiet', '-m', message);
      return run('rev-parse', 'HEAD');
    },
    tag(name: string, commit: string): void {
      run('tag', '-a', name, '-m', name, commit);
    },
  };
  return repo;
}

/** First commit: the app and its first migration; then code, a migration, more code. */
function history() {
  const repo = repository();
  const first = repo.commit('first', { 'migrations/2026_01_01_0001_users.ts': 'users', 'migrations/index.ts': 'index', 'src/app.ts': '1' });
  const code = repo.commit('code', { 'src/app.ts': '2' });
  const migration = repo.commit('orders', { 'migrations/2026_01_02_0002_orders.ts': 'orders', 'migrations/index.ts': 'index 2' });
  const later = repo.commit('later code', { 'src/app.ts': '3' });
  return { repo, first, code, migration, later };
}

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    if (error instanceof BaselineError) return error.message;
    throw error;
  }
  throw new Error('expected a BaselineError');
}

describe('N-1 baseline without release tags', () => {
  it('is the parent of the newest commit that added a migration, naming that migration', () => {
    const { repo, code, migration } = history();
    expect(findBaseline(repo.git)).toEqual({
      commit: code,
      reason: `no release tag before HEAD; the code before 2026_01_02_0002_orders (added in ${migration.slice(0, 7)})`,
    });
  });

  it('ignores files beside the migrations (index.ts, the lint exceptions) and changes to a migration', () => {
    const { repo, code } = history();
    repo.commit('exceptions', { 'migrations/squawk-exceptions.ts': 'list', 'migrations/index.ts': 'index 3' });
    repo.commit('edit', { 'migrations/2026_01_02_0002_orders.ts': 'orders, reformatted' });
    expect(findBaseline(repo.git).commit).toBe(code);
  });

  it('counts a renamed migration as a new one (the migrator knows migrations by name)', () => {
    const { repo, later } = history();
    renameSync(path.join(repo.dir, 'migrations/2026_01_02_0002_orders.ts'), path.join(repo.dir, 'migrations/2026_01_02_0003_orders.ts'));
    const renamed = repo.commit('rename', {});
    expect(findBaseline(repo.git)).toEqual({
      commit: later,
      reason: `no release tag before HEAD; the code before 2026_01_02_0003_orders (added in ${renamed.slice(0, 7)})`,
    });
  });

  it('takes main before the merge that brought the migration, not a commit of the merged branch', () => {
    const { repo } = history();
    repo.run('switch', '--quiet', '-c', 'feature');
    repo.commit('feature code', { 'src/feature.ts': 'f' });
    repo.commit('feature migration', { 'migrations/2026_01_03_0003_feature.ts': 'feature' });
    repo.run('switch', '--quiet', 'main');
    const mainBefore = repo.commit('main code', { 'src/app.ts': '4' });
    repo.run('merge', '--quiet', '--no-ff', '-m', 'merge feature', 'feature');
    expect(findBaseline(repo.git)).toEqual({
      commit: mainBefore,
      reason: `no release tag before HEAD; the code before 2026_01_03_0003_feature (added in ${repo.git(['rev-parse', '--short=7', 'HEAD'])})`,
    });
  });

  it('ignores a migration on a branch recorded in history without its changes (merge -s ours)', () => {
    const { repo, code } = history();
    repo.run('switch', '--quiet', '-c', 'abandoned');
    repo.commit('abandoned migration', { 'migrations/2026_01_09_0009_abandoned.ts': 'x' });
    repo.run('switch', '--quiet', 'main');
    repo.run('merge', '--quiet', '-s', 'ours', '-m', 'record abandoned', 'abandoned');
    expect(findBaseline(repo.git).commit).toBe(code);
  });

  it('refuses when the only migrations came with the first commit', () => {
    const repo = repository();
    const first = repo.commit('first', { 'migrations/2026_01_01_0001_users.ts': 'users' });
    repo.commit('code', { 'src/app.ts': '2' });
    expect(refusal(() => findBaseline(repo.git))).toBe(
      `N-1: no release tag vX.Y.Z before HEAD, and the newest migration came with the first commit (${first.slice(0, 7)}): no code ran before it`,
    );
  });

  it('refuses when no commit added a migration', () => {
    const repo = repository();
    repo.commit('first', { 'src/app.ts': '1', 'migrations/index.ts': 'index' });
    expect(refusal(() => findBaseline(repo.git))).toMatch(/^N-1: no release tag vX\.Y\.Z before HEAD and no commit that added a migration/);
  });
});

describe('N-1 baseline with release tags', () => {
  it('is the newest release tag reachable from HEAD, even with migrations after it', () => {
    const { repo, first } = history();
    repo.tag('v0.1.0', first);
    expect(findBaseline(repo.git)).toEqual({ commit: first, reason: 'release tag v0.1.0' });
  });

  it('skips the tag on HEAD itself: a release is compared with the one before it', () => {
    const { repo, first, later } = history();
    repo.tag('v0.1.0', first);
    repo.tag('v0.2.0', later);
    expect(findBaseline(repo.git)).toEqual({ commit: first, reason: 'release tag v0.1.0' });
  });

  it('orders releases by version, not by name (v0.10.0 after v0.9.0)', () => {
    const { repo, first, code } = history();
    repo.tag('v0.10.0', code);
    repo.tag('v0.9.0', first);
    expect(findBaseline(repo.git)).toEqual({ commit: code, reason: 'release tag v0.10.0' });
  });

  it('ignores pre-releases, other v* tags and tags not reachable from HEAD', () => {
    const { repo, first, code, migration } = history();
    repo.tag('v0.1.0', first);
    repo.tag('v0.2.0-rc.1', code);
    repo.tag('vendor-drop', migration);
    repo.run('switch', '--quiet', '-c', 'other', code);
    const elsewhere = repo.commit('elsewhere', { 'src/other.ts': 'o' });
    repo.tag('v9.0.0', elsewhere);
    repo.run('switch', '--quiet', 'main');
    expect(findBaseline(repo.git)).toEqual({ commit: first, reason: 'release tag v0.1.0' });
  });

  it('falls back to the code before the newest migration when HEAD carries the only release tag', () => {
    const { repo, code, later } = history();
    repo.tag('v0.1.0', later);
    expect(findBaseline(repo.git).commit).toBe(code);
  });
});

describe('N-1 baseline in a shallow clone', () => {
  it('refuses in one line instead of guessing from the cut-off history', () => {
    const { repo, first } = history();
    repo.tag('v0.1.0', first);
    const clone = path.join(repo.dir, '..', `${path.basename(repo.dir)}-shallow`);
    made.push(clone);
    repo.run('clone', '--quiet', '--depth', '1', `file://${repo.dir}`, clone);
    const message = refusal(() => findBaseline(gitIn(clone)));
    expect(message).toBe(
      'N-1: the clone is shallow, so the previous release cannot be found (clone with full history, or run git fetch --unshallow --tags)',
    );
    expect(message).not.toContain('\n');
  });
});
