/**
 * A schema change made in phases, so that no deploy waits on it and no
 * release breaks on it (expand/contract; docs/operations/migrations.md):
 *
 *   before      the expand migration has not run: only the old shape exists;
 *   expanded    it has: the services write both shapes; its backfill fills
 *               the new shape for the rows written before (a job, in batches);
 *   backfilled  every row was backfilled; reads still use the old shape;
 *   switched    reads use the new shape (switched at run time, by an
 *               operator: `npm run db:transition -- switch <name>`);
 *   contracted  the contract migration has run (the new shape is complete
 *               and constrained, e.g. NOT NULL): reads and writes use it.
 *
 * A module declares its transitions (`ModuleDescriptor.transitions`); each
 * instance reads their phases from the database every TRANSITION_REFRESH_MS
 * (./watcher.ts), so every phase but the migrations' is reached without a
 * restart, and the same code runs on a database in any phase.
 */
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { DatabaseUnavailableError } from '../db/faults.js';
import type { TaskName } from '../jobs/task.js';
import type { Scope } from '../scope/scope.js';
import type { TransitionName, TransitionStates } from './phases.js';

export { TRANSITION_PHASES, type TransitionName, type TransitionPhase, type TransitionStates } from './phases.js';

export interface BackfillBatchResult {
  /** Key of the last row looked at (the next batch starts after it); `null` when there was none. */
  last: string | null;
  /** Rows looked at; fewer than the limit means the end was reached. */
  scanned: number;
  /** Rows whose new shape had to change. */
  changed: number;
}

/**
 * One backfill batch inside the caller's unit of work: the rows after
 * `after` (from the first when `null`) in key order, at most `limit`. It
 * must be idempotent (a batch may run again after a crash rolled it back)
 * and must hold the rows it sets against the writes that dual-write them.
 */
export type BackfillBatch = (scope: Scope, after: string | null, limit: number) => Promise<BackfillBatchResult>;

export interface TransitionDefinition {
  name: TransitionName;
  /** One line: what moves where. */
  description: string;
  /** The migration that adds the new shape (nullable column, new table). */
  expand: string;
  /**
   * The later migration that completes it (NOT NULL, a dropped old column),
   * once it is written: a release may ship the expand, the dual-write and
   * the backfill before its contract exists.
   */
  contract?: string;
  /** The table the backfill walks, for the progress estimate (`pg_class.reltuples`). */
  table: keyof Database;
  /** The backfill: its task (one of the module's `tasks`, made by ./backfill.ts's `backfillTask`) and its batch. */
  backfill: { task: TaskName; batch: BackfillBatch };
  /**
   * Why reads may not switch yet although the backfill completed (rows still
   * lacking the new shape), read from the database; `undefined`: they may.
   */
  switchBlocker(db: Kysely<Database>): Promise<string | undefined>;
}

/** Reads use the new shape: switched or contracted. Unknown: the old one, which is right in every phase. */
export function readsNewShape(states: TransitionStates, name: TransitionName): boolean {
  const phase = states.phase(name);
  return phase === 'switched' || phase === 'contracted';
}

/**
 * Writes must keep the new shape too: every phase from `expanded` on. While
 * the phase is unknown (the database has not answered since this instance
 * started) it throws DatabaseUnavailableError: writing only the old shape into an expanded schema
 * would leave a row that a finished backfill no longer corrects, and
 * writing the new shape into a schema without it fails anyway.
 */
export function writesNewShape(states: TransitionStates, name: TransitionName): boolean {
  const phase = states.phase(name);
  // Answered like the outage it is (503 SERVICE_UNAVAILABLE with Retry-After), and retried by a job's backoff.
  if (phase === undefined) throw new DatabaseUnavailableError(new Error(`the phase of ${name} is not known yet: the database has not answered since start-up`));
  return phase !== 'before';
}
