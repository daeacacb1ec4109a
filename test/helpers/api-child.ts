/**
 * The API as its own process, for tests that signal it (SIGTERM, SIGKILL) or
 * run it beside another: `node --import tsx src/main.ts` by default, or the
 * README's `npm start` / `npm run start:prod`. Its output is kept for the
 * test to read and for failure messages; `stop()` kills it (SIGKILL) if it
 * still runs, for a test's cleanups.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { findFreePort } from '../../src/db/embedded.js';
import { projectRoot } from '../../src/util/project-root.js';
import { until } from './worker-child.js';

export type ApiCommand = 'node' | 'npm start' | 'npm run start:prod';

export interface ApiChild {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  output: () => string;
  /** The exit code (null after a signal), once the process has exited. */
  exited: Promise<number | null>;
  /** SIGKILL if still running, then waits for the exit. */
  stop: () => Promise<void>;
}

export interface LaunchOptions {
  command?: ApiCommand;
  /** Over the defaults: NODE_ENV=test, JSON logs at info, no migrations, no demo data, 127.0.0.1 on a free port. */
  env: Record<string, string>;
  /**
   * When the process counts as started: this text in its output. Without it, once /health/ready answers 200
   * (polled each time on a connection of its own that is closed at once: a shutdown must not wait for it).
   */
  readyWhen?: string;
  /** How long start-up may take (60 s). */
  timeoutMs?: number;
}

const COMMANDS: Record<ApiCommand, [string, string[]]> = {
  node: [process.execPath, ['--import', 'tsx', 'src/main.ts']],
  'npm start': ['npm', ['start', '--silent']],
  'npm run start:prod': ['npm', ['run', '--silent', 'start:prod']],
};

export async function launchApi({ command = 'node', env, readyWhen, timeoutMs = 60_000 }: LaunchOptions): Promise<ApiChild> {
  const port = await findFreePort();
  const [file, args] = COMMANDS[command];
  const child = spawn(file, args, {
    cwd: projectRoot(),
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      SEED_DEMO_DATA: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await until(
      `the API (${command}) to start`,
      async () => {
        if (child.exitCode !== null) throw new Error(`the API exited during start-up:\n${output}`);
        if (readyWhen !== undefined) return output.includes(readyWhen) ? true : undefined;
        const ready = await fetch(`${baseUrl}/health/ready`, { headers: { connection: 'close' } }).catch(() => undefined);
        return ready?.status === 200 ? true : undefined;
      },
      () => output,
      timeoutMs,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, port, baseUrl, output: () => output, exited, stop };
}
