/**
 * The production build (`dist/src/main.js`, built by `npm run build`) as a
 * child process over the benchmark's database: what operators run, logging
 * and all, on a free loopback port. Its output is discarded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PRODUCTION_ENTRY = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export interface ProductionServer {
  baseUrl: string;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Builds the production bundle when it is missing (`npm run build`). */
export async function ensureProductionBuild(): Promise<void> {
  if (existsSync(PRODUCTION_ENTRY)) return;
  const build = spawn('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const [code] = (await once(build, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`npm run build failed (exit ${code})`);
}

async function waitUntilReady(baseUrl: string, path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} during start-up`);
    try {
      if ((await fetch(`${baseUrl}${path}`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server at ${baseUrl} was not ready within ${timeoutMs} ms`);
}

/**
 * Starts `node dist/src/main.js` with NODE_ENV=production and `env` over the
 * given database; resolves once `readyPath` answers 200 (`/health/live` for a
 * server started before its migrations, whose readiness waits for them).
 */
export async function startProductionServer(databaseUrl: string, env: Record<string, string>, { readyPath = '/health/ready' }: { readyPath?: string } = {}): Promise<ProductionServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [PRODUCTION_ENTRY], {
    cwd: ROOT,
    stdio: 'ignore',
    env: {
      PATH: process.env['PATH'] ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      MIGRATE_ON_START: 'false',
      ...env,
    },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  try {
    await waitUntilReady(baseUrl, readyPath, child, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, stop };
}
