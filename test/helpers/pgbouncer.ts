/**
 * A real PgBouncer (Debian's `pgbouncer` package) in transaction mode, in
 * front of the test run's PostgreSQL server, whichever path the harness took
 * (embedded, a container's published port, TEST_DATABASE_URL): started on a
 * free loopback port with a configuration written to a temporary folder,
 * stopped and removed by `stop`.
 *
 * Its server pool is kept smaller than the application's pool on purpose
 * (`serverPoolSize`, default 3), so that client connections share server
 * sessions and anything the server left in a session (a named prepared
 * statement, a SET) would show.
 *
 * As root, PgBouncer refuses to run; it is started with `-u` as the
 * `postgres` system user (the embedded PostgreSQL's, created if missing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';

import { withDatabaseName } from '../../src/db/connection.js';
import { postgresUser } from '../../src/db/embedded-host.js';
import { findFreePort } from '../../src/db/embedded.js';
import { createLogger } from '../../src/observability/logger.js';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];
const START_TIMEOUT_MS = 20_000;

/** The pgbouncer binary: PGBOUNCER_PATH, or where Debian's package puts it; undefined when there is none. */
export function pgbouncerBinary(): string | undefined {
  const configured = process.env['PGBOUNCER_PATH'];
  if (configured) return existsSync(configured) ? configured : undefined;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

export interface PgBouncer {
  port: number;
  /** `url` (a database on the server PgBouncer fronts) rewritten to go through PgBouncer. */
  through(url: string): string;
  /** What PgBouncer wrote (its log goes to stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** The server PgBouncer fronts, as a URL (its user and password log PgBouncer in). */
  serverUrl: string;
  /** Server connections per (database, user): PgBouncer's `default_pool_size`. @default 3 */
  serverPoolSize?: number;
}

/** Quotes a value for pgbouncer.ini's `key=value` connection strings. */
function iniValue(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer not found: install Debian\'s pgbouncer package (apt-get install -y pgbouncer) or set PGBOUNCER_PATH');
  const server = new URL(options.serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const host = server.hostname === 'localhost' ? '127.0.0.1' : server.hostname;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-pgbouncer-'));
  await chmod(dir, 0o755);
  const port = await findFreePort();
  const userlist = path.join(dir, 'userlist.txt');
  await writeFile(userlist, `"${user}" "${password}"\n`, { mode: 0o644 });
  const ini = path.join(dir, 'pgbouncer.ini');
  const connection = [`host=${iniValue(host)}`, `port=${server.port || '5432'}`, `user=${iniValue(user)}`, ...(password ? [`password=${iniValue(password)}`] : [])].join(' ');
  await writeFile(
    ini,
    [
      '[databases]',
      // Every database name the client asks for, on the fronted server.
      `* = ${connection}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${userlist}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.serverPoolSize ?? 3}`,
      'max_client_conn = 500',
      // Nothing is ignored: a client sending startup `options` is refused, as in a default installation.
      'ignore_startup_parameters =',
      // A server session is checked before it is handed out again, so one terminated under PgBouncer is dropped, not lent.
      'server_check_delay = 0',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const runAs = await postgresUser(createLogger({ logLevel: 'silent', logFormat: 'json' }));
  const child: ChildProcess = spawn(binary, [...(runAs ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output += `\n${error.message}`;
      resolve();
    });
  });

  const through = (url: string): string => {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(port);
    parsed.username = encodeURIComponent(user);
    parsed.password = password ? encodeURIComponent(password) : '';
    return parsed.toString();
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Up when a client can log in through it to the server's `postgres` database.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`pgbouncer exited during start-up: ${output.trim().split('\n').slice(-5).join(' | ')}`);
    }
    const client = new pg.Client({ connectionString: through(withDatabaseName(options.serverUrl, 'postgres')), connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`pgbouncer did not accept connections within ${START_TIMEOUT_MS} ms (${error instanceof Error ? error.message : String(error)}): ${output.trim().split('\n').slice(-5).join(' | ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { port, through, output: () => output, stop };
}
