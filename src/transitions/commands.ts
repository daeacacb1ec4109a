/**
 * What an operator does to a phased schema change (./transition.ts), each
 * in a transaction of its own: start its backfill (a job; a worker runs
 * it), switch its reads to the new shape or back, and read where each
 * stands. `npm run db:transition` (./cli.ts) calls these; so do the drill
 * (bench/drill-migration.ts) and the tests.
 */
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { inPlainTransaction } from '../db/unit-of-work.js';
import { addJob } from '../jobs/jobs.repository.js';
import type { TransitionSample } from '../observability/transition-metrics.js';
import { backfillJobKey, type BackfillSettings } from './backfill.js';
import type { TransitionDefinition } from './transition.js';
import { ensureTransitionRow, findTransitionRow, markBackfillStarted, setReadsSwitched } from './transitions.repository.js';
import { readTransitionSamples } from './watcher.js';

/** A command refused, with what to do instead (one line for the CLI). */
export class TransitionCommandError extends Error {
  override name = 'TransitionCommandError';
}

async function assertExpanded(db: Kysely<Database>, definition: TransitionDefinition): Promise<void> {
  // Its expand comes after schema_transitions' migration, so the table exists once the phase is past `before`.
  const { samples } = await readTransitionSamples(db, [definition]);
  if (samples[0]?.phase === 'before') {
    throw new TransitionCommandError(`${definition.name}: its expand migration ${definition.expand} has not run; migrate first (npm run db:migrate)`);
  }
}

export interface StartedBackfill {
  /** `false`: it had completed already (and `restart` was not asked). */
  started: boolean;
}

/**
 * Starts (or resumes) the backfill: its state row, and one job for its task
 * (the job key replaces a waiting one). Run it once every instance writes
 * the new shape: after the release that does is rolled out everywhere, and
 * at least TRANSITION_REFRESH_MS after the expand migration.
 * `restart` forgets the progress (and a completion, and switched reads);
 * `enqueue: false` adds no job (the caller runs the batches itself).
 */
export async function startBackfill(
  db: Kysely<Database>,
  definition: TransitionDefinition,
  settings: BackfillSettings,
  options: { restart?: boolean; enqueue?: boolean } = {},
): Promise<StartedBackfill> {
  await assertExpanded(db, definition);
  return inPlainTransaction(db, async (trx) => {
    await ensureTransitionRow(trx, definition.name);
    const row = await markBackfillStarted(trx, definition.name, options.restart ?? false);
    if (row.backfill_completed_at) return { started: false };
    if (options.enqueue !== false) await addJob(trx, { task: definition.backfill.task, payload: { ...settings }, jobKey: backfillJobKey(definition.name) });
    return { started: true };
  });
}

/**
 * Reads on the new shape (`on`) or back on the old one. Refused before the
 * backfill completed, or while the definition says rows still lack the new
 * shape. Every instance follows within TRANSITION_REFRESH_MS.
 */
export async function switchReads(db: Kysely<Database>, definition: TransitionDefinition, on: boolean): Promise<void> {
  await assertExpanded(db, definition);
  if (on) {
    const row = await findTransitionRow(db, definition.name);
    if (!row?.backfill_completed_at) throw new TransitionCommandError(`${definition.name}: its backfill has not completed; run it first (npm run db:transition -- backfill ${definition.name})`);
    const blocker = await definition.switchBlocker(db);
    if (blocker !== undefined) throw new TransitionCommandError(`${definition.name}: reads cannot switch yet: ${blocker}`);
  }
  // Refused by the database too before a completed backfill (the row's CHECK, and the update's condition). Switching back
  // before one: reads never left the old shape.
  const row = await setReadsSwitched(db, definition.name, on);
  if (!row && on) throw new TransitionCommandError(`${definition.name}: its backfill has not completed; run it first (npm run db:transition -- backfill ${definition.name})`);
}

/** Each transition's phase and backfill progress, as the database holds them. */
export async function transitionStatus(db: Kysely<Database>, definitions: readonly TransitionDefinition[]): Promise<TransitionSample[]> {
  return (await readTransitionSamples(db, definitions)).samples;
}
