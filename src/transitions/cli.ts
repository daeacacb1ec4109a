/**
 * `npm run db:transition -- <command>` (compiled: `node dist/src/transitions/cli.js <command>`):
 * what an operator does to a schema change made in phases
 * (docs/operations/migrations.md). DATABASE_URL, or the embedded PostgreSQL
 * when it is not set.
 *
 *   status                         each transition's phase and backfill progress
 *   backfill <name> [--batch-size N] [--pause-ms N] [--run-ms N] [--restart] [--here]
 *                                  start (or resume) its backfill: a job that a worker runs (one job
 *                                  runs --run-ms, then hands over to the next);
 *                                  --here runs it in this process to the end instead
 *   switch <name>                  reads move to the new shape (every instance within TRANSITION_REFRESH_MS)
 *   unswitch <name>                reads move back to the old shape
 */
import { createAuthRuntime } from '../auth/runtime.js';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/bootstrap.js';
import { createLoaders, eventSinks, transitionDefinitions } from '../modules/registry.js';
import { createLogger } from '../observability/logger.js';
import type { TransitionSample } from '../observability/transition-metrics.js';
import { buildScope } from '../scope/scope.js';
import { describeStartupError } from '../startup/startup-errors.js';
import { backfillPayload, runBackfill, type BackfillSettings } from './backfill.js';
import { startBackfill, switchReads, transitionStatus, TransitionCommandError } from './commands.js';
import type { TransitionDefinition } from './transition.js';
import { watchTransitions } from './watcher.js';

const USAGE = `Usage: npm run db:transition -- status
       npm run db:transition -- backfill <name> [--batch-size N] [--pause-ms N] [--run-ms N] [--restart] [--here]
       npm run db:transition -- switch <name>
       npm run db:transition -- unswitch <name>
Transitions: ${transitionDefinitions.map((d) => d.name).join(', ') || '(none)'}`;

class UsageError extends Error {}

interface Parsed {
  command: 'status' | 'backfill' | 'switch' | 'unswitch';
  definition?: TransitionDefinition;
  settings: BackfillSettings;
  restart: boolean;
  here: boolean;
}

function parse(argv: readonly string[]): Parsed {
  const [command, ...rest] = argv;
  if (command !== 'status' && command !== 'backfill' && command !== 'switch' && command !== 'unswitch') throw new UsageError(USAGE);
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i += 1) {
    const arg = rest[i] as string;
    if (arg === '--restart' || arg === '--here') flags.set(arg, true);
    else if (arg === '--batch-size' || arg === '--pause-ms' || arg === '--run-ms') {
      const value = rest[i + 1];
      if (value === undefined) throw new UsageError(`${arg} needs a number\n${USAGE}`);
      flags.set(arg, value);
      i += 1;
    } else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}\n${USAGE}`);
    else positional.push(arg);
  }
  const number = (flag: string) => (typeof flags.get(flag) === 'string' ? Number(flags.get(flag)) : undefined);
  const settings = backfillPayload.safeParse({
    ...(number('--batch-size') !== undefined ? { batchSize: number('--batch-size') } : {}),
    ...(number('--pause-ms') !== undefined ? { pauseMs: number('--pause-ms') } : {}),
    ...(number('--run-ms') !== undefined ? { runMs: number('--run-ms') } : {}),
  });
  if (!settings.success) throw new UsageError(`${settings.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}\n${USAGE}`);
  if (command === 'status') {
    if (positional.length > 0 || flags.size > 0) throw new UsageError(USAGE);
    return { command, settings: settings.data, restart: false, here: false };
  }
  if (positional.length !== 1) throw new UsageError(USAGE);
  const definition = transitionDefinitions.find((d) => d.name === positional[0]);
  if (!definition) throw new UsageError(`no transition named ${positional[0]}\n${USAGE}`);
  if (command !== 'backfill' && flags.size > 0) throw new UsageError(USAGE);
  return { command, definition, settings: settings.data, restart: flags.has('--restart'), here: flags.has('--here') };
}

function describe(sample: TransitionSample): string {
  const done = sample.estimatedRows > 0 ? ` (~${Math.min(100, Math.round((100 * sample.scanned) / sample.estimatedRows))}% of ~${Math.round(sample.estimatedRows)} rows)` : '';
  const when = (label: string, at: Date | null) => (at ? `, ${label} ${at.toISOString()}` : '');
  return (
    `${sample.name}: ${sample.phase}; backfill ${sample.scanned} rows scanned${done}, ${sample.changed} changed, ${sample.batches} batches` +
    `${when('started', sample.startedAt)}${when('completed', sample.completedAt)}${when('reads switched', sample.switchedAt)}`
  );
}

let databaseUrl: string | undefined = process.env['DATABASE_URL'];

async function main(): Promise<void> {
  const parsed = parse(process.argv.slice(2));
  const config = loadConfig();
  databaseUrl = config.databaseUrl;
  const log = createLogger(config);
  const database = await openDatabase(config, log);
  const { db } = database;
  try {
    const definition = parsed.definition;
    if (parsed.command === 'status' || !definition) {
      for (const sample of await transitionStatus(db, transitionDefinitions)) console.log(describe(sample));
      return;
    }
    if (parsed.command === 'switch' || parsed.command === 'unswitch') {
      await switchReads(db, definition, parsed.command === 'switch');
      console.log(`${definition.name}: reads ${parsed.command === 'switch' ? 'switched to the new shape' : 'back on the old shape'}; every instance follows within TRANSITION_REFRESH_MS (${config.transitionRefreshMs} ms)`);
      return;
    }
    const started = await startBackfill(db, definition, parsed.settings, { restart: parsed.restart, enqueue: !parsed.here });
    if (!started.started) {
      console.log(`${definition.name}: its backfill has completed already (--restart runs it again)`);
      return;
    }
    if (!parsed.here) {
      console.log(`${definition.name}: backfill job added (${definition.backfill.task}, ${parsed.settings.batchSize} rows a batch, ${parsed.settings.pauseMs} ms between); a worker runs it. Progress: npm run db:transition -- status`);
      return;
    }
    // In this process, no job: each batch is a transaction of its own here, as in a worker; a worker running a job of it meanwhile takes turns on the same row lock.
    const auth = await createAuthRuntime(config);
    const transitions = await watchTransitions(db, transitionDefinitions, { refreshMs: config.transitionRefreshMs, log });
    try {
      const scope = buildScope({
        deps: { db, auth, createLoaders, eventSinks, transitions, webhooks: config.webhooks },
        request: { id: `cli:backfill:${definition.name}`, ip: '127.0.0.1', userAgent: 'db:transition', origin: null, cookies: {} },
        log,
      });
      await runBackfill(scope, definition.name, definition.backfill.batch, parsed.settings);
    } finally {
      transitions.close();
      await auth.close();
    }
    for (const sample of await transitionStatus(db, [definition])) console.log(describe(sample));
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof TransitionCommandError ? error.message : describeStartupError(error, { databaseUrl }));
  process.exit(1);
});
