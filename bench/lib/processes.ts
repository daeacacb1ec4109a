/**
 * What the side-by-side benchmarks (bench/peer.ts, bench/writes.ts) need to
 * run servers as processes of their own: Node 24 from the npm package `node`,
 * the production build, a wait for readiness, and the CPU time a process has
 * used (from /proc).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Node 24 from the npm package `node` (cached by npx after the first run): the production image's major version. */
export function node24(cwd: string = ROOT): string {
  const found = spawnSync('npx', ['-y', '-p', 'node@24', '--', 'node', '-e', 'process.stdout.write(process.execPath)'], { cwd, encoding: 'utf8' });
  if (found.status !== 0 || !found.stdout) throw new Error(`could not get Node 24 through npx -p node@24: ${found.stderr}`);
  return found.stdout.trim();
}

/** The version of the Node binary at `node`, e.g. `24.21.0`. */
export function nodeVersion(node: string): string {
  return spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
}

/** `npm run build`: the production bundle in dist/. */
export function buildApi(progress: (message: string) => void): void {
  progress('building the API (npm run build)');
  const result = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}

/** Polls `check` until it answers true; fails when the process exits first or after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited with code ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system, all threads) a process has used so far, from
 * /proc (Linux only; undefined elsewhere, or once the process is gone).
 * Servers measured side by side are busy for the same wall time in a round,
 * so CPU per request compares their cost more steadily than requests per
 * second, which move with whatever else the machine's cores are doing.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // "pid (comm) state ...": after the command, utime and stime are the 12th and 13th fields.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
