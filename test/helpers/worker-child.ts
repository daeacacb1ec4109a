/**
 * A job worker as its own process (`npm run worker`'s command) for tests that kill it
 * or run two: started over a test database, its output kept, stopped
 * (SIGKILL) by `stopAll` if the test has not stopped it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { projectRoot } from '../../src/util/project-root.js';

export interface WorkerChild {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Polls `probe` until it returns a value; fails with `what` (and the output) after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, output?: () => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${output ? `:\n${output()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const children = new Set<WorkerChild>();

/**
 * Starts the worker process with the environment given (over NODE_ENV=test, JSON logs at info); resolves once it
 * runs jobs. By default what `npm run worker` execs, without npm in between (a SIGKILL must reach the worker
 * itself); `npm run worker` itself with `{ npm: true }`, as an operator starts it (npm passes SIGTERM on).
 */
export async function launchWorker(env: Record<string, string>, { npm = false }: { npm?: boolean } = {}): Promise<WorkerChild> {
  const [file, args] = npm ? ['npm', ['run', '--silent', 'worker']] : [process.execPath, ['--import', 'tsx', 'src/worker.ts']];
  const child = spawn(file, args, {
    cwd: projectRoot(),
    env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'test', LOG_FORMAT: 'json', LOG_LEVEL: 'info', MIGRATE_ON_START: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started: WorkerChild = { child, output: () => output, exited: once(child, 'exit').then(([code]) => code as number | null) };
  children.add(started);
  await until('the worker to start', () => {
    if (child.exitCode !== null) throw new Error(`the worker exited during start-up:\n${output}`);
    return output.includes('"msg":"job worker running"') ? true : undefined;
  }, started.output);
  return started;
}

/** Kills (SIGKILL) every worker still running; for afterEach. */
export async function stopAll(): Promise<void> {
  for (const started of children) {
    if (started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGKILL');
      await started.exited;
    }
  }
  children.clear();
}
