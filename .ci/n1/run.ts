/**
 * The N-1 job: does the previous release still work on the schema this
 * commit's migrations produce? During a rolling deploy the old replicas serve
 * traffic on the new schema for minutes; a migration that drops or renames
 * something they read, or adds a NOT NULL column they do not fill, breaks
 * them. This job finds out before the deploy does:
 *
 *   1. the baseline (.ci/n1/baseline.ts): the previous release tag, or the
 *      code before the newest migration; none found fails the job;
 *   2. the baseline checked out into a temporary git worktree, with its
 *      dependencies: HEAD's node_modules when package-lock.json is the same,
 *      otherwise `npm ci` into a cache keyed by the lock file;
 *   3. a PostgreSQL server (embedded, or TEST_DATABASE_URL's) and in it a
 *      template database migrated by THIS commit's migrator and migrations;
 *   4. the baseline's HTTP tests listed in .ci/n1/subset.ts, run by the
 *      baseline's own `npm test`, against clones of that template: its global
 *      setup is replaced by .ci/n1/jest-global-setup.mjs, so the old code
 *      never runs a migration;
 *   5. one line `n1 <baseline> (node <version>): N passed, N failed`, jest's
 *      JSON results in test-results-n1.json (read by .ci/run for the total),
 *      and everything it created removed.
 *
 * Run: `node --import tsx .ci/n1/run.ts` (from the repository, after npm ci).
 * Exit code 0 only when every test ran and passed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

import { sql } from 'kysely';

import { ensureDatabase } from '../../src/db/admin.js';
import { createDb, withDatabaseName } from '../../src/db/connection.js';
import { startThrowawayPostgres } from '../../src/db/embedded.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createLogger } from '../../src/observability/logger.js';
import { BaselineError, findBaseline, gitIn, type Baseline } from './baseline.js';
import { N1_TEST_FILES, N1_TEST_TIMEOUT_MS } from './subset.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const RESULTS = path.join(ROOT, 'test-results-n1.json');
const GLOBAL_SETUP = path.join(HERE, 'jest-global-setup.mjs');

const git = gitIn(ROOT);

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** What the job made, undone in reverse order whatever happens (once: the end of main and a signal share it). */
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((error: unknown) => process.stderr.write(`n1: clean-up step failed: ${String(error)}\n`));
    }
  })();
  return cleaning;
}

function seconds(since: number): string {
  return `${Math.round((Date.now() - since) / 1000)}s`;
}

/** Migration names (file names without .ts) of a commit. */
function migrationNames(commit: string): string[] {
  return git(['ls-tree', '--name-only', commit, '--', 'migrations/'])
    .split('\n')
    .map((file) => path.basename(file))
    .filter((name) => /^[0-9].*\.ts$/.test(name))
    .map((name) => name.replace(/\.ts$/, ''))
    .sort();
}

async function checkOut(baseline: Baseline): Promise<string> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'marketplace-n1-'));
  const dir = path.join(tmp, 'baseline');
  git(['worktree', 'add', '--detach', '--quiet', dir, baseline.commit]);
  cleanups.push(async () => {
    try {
      git(['worktree', 'remove', '--force', dir]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
      git(['worktree', 'prune']);
    }
  });
  return dir;
}

function sameFile(commit: string, file: string): boolean {
  try {
    execFileSync('git', ['diff', '--quiet', commit, 'HEAD', '--', file], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** node_modules for the baseline: HEAD's when the lock file is the same, else a cached `npm ci`. How, in words. */
async function install(dir: string, baseline: Baseline): Promise<string> {
  const own = path.join(ROOT, 'node_modules');
  if (sameFile(baseline.commit, 'package-lock.json') && existsSync(own)) {
    await symlink(own, path.join(dir, 'node_modules'), 'dir');
    return "HEAD's node_modules (same package-lock.json)";
  }
  const lock = readFileSync(path.join(dir, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(`${process.version} ${process.platform} ${process.arch}`).digest('hex').slice(0, 16);
  const cacheRoot = process.env.N1_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'marketplace-api-n1');
  const cached = path.join(cacheRoot, key);
  const complete = path.join(cached, '.complete');
  let how = `cached npm ci (${cached})`;
  if (!existsSync(complete)) {
    // An interrupted install leaves no marker and is started over.
    await rm(cached, { recursive: true, force: true });
    await mkdir(cached, { recursive: true });
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) {
      if (existsSync(path.join(dir, file))) await copyFile(path.join(dir, file), path.join(cached, file));
    }
    const started = Date.now();
    const status = await runInherited('npm', ['ci', '--no-audit', '--no-fund'], cached, process.env);
    if (status !== 0) throw new Error(`npm ci for the baseline failed (exit code ${status})`);
    await writeFile(complete, `${new Date().toISOString()}\n`);
    how = `npm ci into ${cached} (${seconds(started)}; reused while the lock file is the same)`;
  }
  await symlink(path.join(cached, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return how;
}

/** The command running now (npm ci, the old tests), in a process group of its own, and its end. */
let running: { pid: number; exited: Promise<number> } | undefined;

/** Runs a command with this process's output; resolves with its exit code (rejects only when it cannot start). */
function runInherited(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  // Its own process group, so a signal reaches npm, jest and jest's workers
  // alike, and the clean-up waits for all of them to end.
  const started = spawn(file, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const exited = new Promise<number>((resolve, reject) => {
    started.once('error', reject);
    started.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  if (started.pid !== undefined) running = { pid: started.pid, exited };
  return exited.finally(() => {
    running = undefined;
  });
}

/** Signals the running command's process group; after `graceMs` without an end, kills it. */
async function stopRunning(signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const current = running;
  if (!current) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-current.pid, sig);
    } catch {
      // The group is gone already.
    }
  };
  signalGroup(signal);
  const ended = await Promise.race([current.exited.then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs))]);
  if (!ended) signalGroup('SIGKILL');
}

/**
 * Drops the template and the per-file clones the old harness made of it,
 * found by the name prefix it derives from the template (test/helpers/
 * database.ts: `mp_t_<template without mp_tpl_>_`). Only those: the server
 * may be shared.
 */
async function dropOwnDatabases(url: string, template: string): Promise<void> {
  const prefix = `mp_t_${template.replace(/^mp_tpl_/, '')}_`.replace(/_/g, '\\_');
  const db = createDb({ url: withDatabaseName(url, 'postgres'), poolMax: 1, statementTimeoutMs: 60_000 });
  try {
    const { rows } = await sql<{ datname: string }>`
      SELECT datname FROM pg_database WHERE datname = ${template} OR datname LIKE ${`${prefix}%`}`.execute(db);
    for (const { datname } of rows) await sql`DROP DATABASE IF EXISTS ${sql.id(datname)} WITH (FORCE)`.execute(db);
  } finally {
    await db.destroy();
  }
}

/** The server: TEST_DATABASE_URL's (left running), or an embedded one (removed afterwards). */
async function startServer(): Promise<{ url: string; detail: string; shared: boolean }> {
  const external = process.env.TEST_DATABASE_URL?.trim();
  if (external) return { url: external, detail: `TEST_DATABASE_URL (server ${new URL(external).host})`, shared: true };
  const server = await startThrowawayPostgres({
    database: 'postgres',
    prefix: 'marketplace-n1-pg-',
    log: createLogger({ logLevel: 'warn', logFormat: 'json' }),
  });
  cleanups.push(() => server.stop());
  return { url: server.url, detail: `embedded PostgreSQL (port ${server.port})`, shared: false };
}

interface Counts {
  passed: number;
  failed: number;
  total: number;
}

function countsOf(file: string): Counts | undefined {
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numRuntimeErrorTestSuites: number; numTotalTests: number };
  // A file that failed before any test ran (an import error, a failing beforeAll) counts as a failure too.
  return { passed: r.numPassedTests, failed: r.numFailedTests + r.numRuntimeErrorTestSuites, total: r.numTotalTests };
}

async function main(): Promise<number> {
  const started = Date.now();
  await rm(RESULTS, { force: true });
  let baseline: Baseline;
  try {
    baseline = findBaseline(git);
  } catch (error) {
    if (error instanceof BaselineError) {
      say(error.message);
      return 1;
    }
    throw error;
  }
  const label = `n1 ${baseline.commit.slice(0, 7)}`;
  say(`== N-1: the tests of ${baseline.commit.slice(0, 7)} (${baseline.reason}) on the schema of HEAD ${git(['rev-parse', '--short', 'HEAD'])}`);

  const dir = await checkOut(baseline);
  const installedBy = await install(dir, baseline);
  say(`n1: baseline checked out in ${dir}; dependencies: ${installedBy}`);
  const prepared = Date.now();

  const files = N1_TEST_FILES.map((entry) => entry.file);
  const absent = files.filter((file) => !existsSync(path.join(dir, file)));
  const present = files.filter((file) => !absent.includes(file));
  if (absent.length > 0) say(`n1: not in the baseline, so not run: ${absent.join(', ')}`);
  if (present.length === 0) {
    say(`${label}: none of the test files of .ci/n1/subset.ts exists in the baseline`);
    return 1;
  }

  const server = await startServer();
  const template = `mp_tpl_n1_${randomBytes(4).toString('hex')}`;
  if (server.shared) cleanups.push(() => dropOwnDatabases(server.url, template));
  await ensureDatabase(server.url, template);
  const db = createDb({ url: withDatabaseName(server.url, template), poolMax: 1, statementTimeoutMs: 120_000 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  const headMigrations = migrationNames('HEAD');
  const known = new Set(migrationNames(baseline.commit));
  const added = headMigrations.filter((name) => !known.has(name));
  const gone = [...known].filter((name) => !headMigrations.includes(name));
  say(
    `n1: ${server.detail}; template ${template} migrated by HEAD (${headMigrations.length} migrations, ` +
      `${added.length > 0 ? `new since the baseline: ${added.join(', ')}` : 'none new since the baseline'}` +
      `${gone.length > 0 ? `; gone since the baseline: ${gone.join(', ')}` : ''})`,
  );
  const migrated = Date.now();

  const env: NodeJS.ProcessEnv = { ...process.env, TEST_PG_URL: server.url, TEST_PG_TEMPLATE: template };
  delete env.TEST_DATABASE_URL;
  const status = await runInherited(
    'npm',
    [
      'test',
      '--',
      '--ci',
      '--json',
      `--outputFile=${RESULTS}`,
      `--globalSetup=${GLOBAL_SETUP}`,
      `--testTimeout=${N1_TEST_TIMEOUT_MS}`,
      '--runTestsByPath',
      ...present,
    ],
    dir,
    env,
  );
  const counts = countsOf(RESULTS);
  say(`n1 timings: check-out and install ${Math.round((prepared - started) / 1000)}s, migrate ${Math.round((migrated - prepared) / 1000)}s, tests ${seconds(migrated)}`);
  if (!counts) {
    say(`${label}: jest wrote no results (exit code ${status})`);
    return 1;
  }
  say(`${label} (node ${process.version}): ${counts.passed} passed, ${counts.failed} failed`);
  return status === 0 && counts.failed === 0 && counts.total > 0 ? 0 : 1;
}

function onSignal(signal: NodeJS.Signals): void {
  say(`n1: ${signal}: stopping the running command, then removing what the job made`);
  void stopRunning(signal, 15_000)
    .then(cleanUp)
    .finally(() => process.exit(130));
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

let code = 1;
try {
  code = await main();
} catch (error) {
  say(`n1: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  if (error instanceof Error) process.stderr.write(`${inspect(error)}\n`);
} finally {
  await cleanUp();
}
process.exit(code);
