/**
 * CPU time of a local server and its children, read from Linux's /proc: the
 * processes whose command line contains a marker (say, an embedded
 * PostgreSQL's data directory), with every process they forked (its
 * backends), including children that have ended and been reaped. Readings
 * before and after a stretch of load give the server's CPU over it; `null`
 * where /proc is not there (not Linux) or nothing matches.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime (children that ended and were waited for), in ticks. */
  reaped: number;
}

function readStat(pid: string): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const at = (field: number) => Number(fields[field - 3]);
    return { pid: Number(pid), ppid: at(4), own: at(14) + at(15), reaped: at(16) + at(17) };
  } catch {
    return undefined;
  }
}

function commandLine(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** CPU milliseconds so far of the processes whose command line contains `marker` and of their children; `null` when none is found. */
export function processTreeCpuMs(marker: string): number | null {
  const pids = procPids();
  if (pids === null) return null;
  const roots = pids.filter((pid) => commandLine(pid).includes(marker)).map(Number);
  return roots.length === 0 ? null : treeCpuMs(pids, roots);
}

/** CPU milliseconds so far of the process `pid` and of its children (a PostgreSQL postmaster and its backends, say); `null` when it is gone. */
export function processCpuMs(pid: number): number | null {
  const pids = procPids();
  return pids === null || !pids.includes(String(pid)) ? null : treeCpuMs(pids, [pid]);
}

function procPids(): string[] | null {
  try {
    return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
}

function treeCpuMs(pids: string[], roots: number[]): number {
  const stats = pids.flatMap((pid) => readStat(pid) ?? []);
  // The roots and every descendant (a server started through a wrapper such as `su` forks twice).
  const tree = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of stats) {
      if (!tree.has(stat.pid) && tree.has(stat.ppid)) {
        tree.add(stat.pid);
        grew = true;
      }
    }
  }
  // A root's reaped children were part of the tree; a descendant's reaped ones too, once they end.
  let ticks = 0;
  for (const stat of stats) if (tree.has(stat.pid)) ticks += stat.own + stat.reaped;
  return (ticks * 1000) / TICKS_PER_SECOND;
}
