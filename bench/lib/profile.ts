/**
 * A summary of a V8 CPU profile (`node --cpu-prof`): self time grouped by
 * where the code lives (garbage collection, a package under node_modules, a
 * file of this project, Node's internals), then the heaviest functions.
 * Enough to say where a request's CPU goes without opening a profiler.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives, as a short label. */
function groupOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)' || functionName === '(program)') return functionName;
  if (url === '') return 'native / V8';
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, micros] of selfTime) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const group = groupOf(frame);
    if (group === '(idle)') continue;
    busy += micros;
    groups.set(group, (groups.get(group) ?? 0) + micros);
    const name = `${frame.functionName || '(anonymous)'} ${group}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
  }
  const pct = (micros: number) => `${((100 * micros) / busy).toFixed(1).padStart(5)} %`;
  const lines = [`busy CPU ${(busy / 1e6).toFixed(1)} s (idle excluded); self time by where the code lives:`];
  for (const [group, micros] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(micros)}  ${group}`);
  lines.push('heaviest functions (self time):');
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(micros)}  ${name}`);
  lines.push('total time (self and callees) by where the code lives, each sample counted once per place on its stack:');
  for (const [group, micros] of [...inclusiveTime(profile, byId, selfTime)].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(micros)}  ${group}`);
  return lines.join('\n');
}

/**
 * Time spent in each place's code or below it: what a stage costs with
 * everything it calls (the authentication hook with its JWT check and
 * reads, Kysely with the query building it asks for). Idle excluded.
 */
function inclusiveTime(profile: CpuProfile, byId: Map<number, ProfileNode>, selfTime: Map<number, number>): Map<string, number> {
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const totals = new Map<string, number>();
  for (const [id, micros] of selfTime) {
    const leaf = byId.get(id)?.callFrame;
    if (!leaf || groupOf(leaf) === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame && frame.functionName !== '(root)') seen.add(groupOf(frame));
    }
    for (const group of seen) totals.set(group, (totals.get(group) ?? 0) + micros);
  }
  return totals;
}

// `tsx bench/lib/profile.ts <file.cpuprofile>` prints the summary of a profile.
if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/lib/profile.ts <file.cpuprofile>');
  console.log(summariseProfile(file));
}
