/**
 * What each instance (API or worker) knows of the phased schema changes
 * (./transition.ts): read from the database at start and every
 * TRANSITION_REFRESH_MS, kept in memory, so services ask without a
 * statement of their own. A change of phase (an expand migration applied
 * while the instance runs, reads switched by an operator) reaches the
 * instance within one refresh; instances may disagree meanwhile, which each
 * phase allows (both shapes hold the same values from `expanded` on).
 */
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { describeDatabaseError } from '../db/faults.js';
import { observeTransitions, type TransitionSample } from '../observability/transition-metrics.js';
import type { ScopeLogger } from '../scope/scope.js';
import type { TransitionDefinition, TransitionName, TransitionPhase, TransitionStates } from './transition.js';
import { readTransitionState, type TransitionState } from './transitions.repository.js';
import type { SchemaTransitionRow } from './transition.table.js';

/** How soon a watcher that never read the phases tries again. */
const UNKNOWN_RETRY_MS = 500;

export interface TransitionWatcherOptions {
  refreshMs: number;
  log: Pick<ScopeLogger, 'info' | 'warn' | 'debug'>;
}

export interface TransitionWatcher extends TransitionStates {
  /** Reads the state now (tests, the drill and the CLI do not wait for the timer). */
  refresh(): Promise<void>;
  /** The last state read, per transition. */
  samples(): TransitionSample[];
  close(): void;
}

function phaseOf(definition: TransitionDefinition, applied: ReadonlySet<string>, row: SchemaTransitionRow | undefined): TransitionPhase {
  if (definition.contract !== undefined && applied.has(definition.contract)) return 'contracted';
  if (!applied.has(definition.expand)) return 'before';
  if (row?.reads_switched_at) return 'switched';
  if (row?.backfill_completed_at) return 'backfilled';
  return 'expanded';
}

/** The samples of the definitions from one read of the state. */
function samplesOf(definitions: readonly TransitionDefinition[], state: TransitionState): TransitionSample[] {
  return definitions.map((definition) => {
    const row = state.rows.find((r) => r.name === definition.name);
    return {
      name: definition.name,
      phase: phaseOf(definition, state.applied, row),
      scanned: Number(row?.backfill_scanned ?? 0),
      changed: Number(row?.backfill_changed ?? 0),
      batches: row?.backfill_batches ?? 0,
      estimatedRows: Math.max(0, state.estimates.get(definition.table) ?? 0),
      startedAt: row?.backfill_started_at ?? null,
      completedAt: row?.backfill_completed_at ?? null,
      switchedAt: row?.reads_switched_at ?? null,
    };
  });
}

const UNDEFINED_TABLE = '42P01';

/**
 * Reads every definition's phase and backfill progress: one statement, or
 * two when `schema_transitions` turned out to exist (or not) against
 * `expectTable`. Returns whether it exists, for the next read's guess.
 */
export async function readTransitionSamples(
  db: Kysely<Database>,
  definitions: readonly TransitionDefinition[],
  expectTable = true,
): Promise<{ samples: TransitionSample[]; hasTable: boolean }> {
  const migrations = definitions.flatMap((d) => [d.expand, ...(d.contract !== undefined ? [d.contract] : [])]);
  const tables = [...new Set(definitions.map((d) => d.table))];
  let state: TransitionState;
  try {
    state = await readTransitionState(db, migrations, tables, expectTable);
  } catch (error) {
    // Its migration was rolled back since the last read.
    if (!expectTable || (error as { code?: unknown }).code !== UNDEFINED_TABLE) throw error;
    state = await readTransitionState(db, migrations, tables, false);
  }
  // Created since the last read: read it too.
  if (!expectTable && state.hasTable) state = await readTransitionState(db, migrations, tables, true);
  return { samples: samplesOf(definitions, state), hasTable: state.hasTable };
}

/**
 * Starts watching: reads once before it returns (a failure is logged and
 * leaves the phases unknown until a later refresh succeeds), then every
 * `refreshMs`. Its samples feed the `schema_transition_*` metrics.
 */
export async function watchTransitions(
  db: Kysely<Database>,
  definitions: readonly TransitionDefinition[],
  options: TransitionWatcherOptions,
): Promise<TransitionWatcher> {
  let samples = new Map<TransitionName, TransitionSample>();
  let hasTable = true;
  let failing = false;
  let running: Promise<void> | undefined;
  let closed = false;

  const read = async () => {
    try {
      const result = await readTransitionSamples(db, definitions, hasTable);
      hasTable = result.hasTable;
      const next = result.samples;
      for (const sample of next) {
        const before = samples.get(sample.name)?.phase;
        if (before !== sample.phase) options.log.info({ transition: sample.name, from: before ?? null, to: sample.phase }, 'schema transition phase');
      }
      samples = new Map(next.map((sample) => [sample.name, sample]));
      if (failing) options.log.info('schema transitions: state read again');
      failing = false;
    } catch (error) {
      // Logged once per outage; the phases stay as last read (unknown if never read).
      if (!failing) options.log.warn({ db: describeDatabaseError(error) }, 'schema transitions: could not read their state; keeping the last one');
      failing = true;
      // Never read: writes are refused until it is, so try again soon rather than a whole interval later.
      if (samples.size === 0 && !closed) setTimeout(() => void refresh(), Math.min(options.refreshMs, UNKNOWN_RETRY_MS)).unref();
    }
  };
  const refresh = () => {
    running ??= read().finally(() => {
      running = undefined;
    });
    return running;
  };

  await refresh();
  const timer = setInterval(() => void refresh(), options.refreshMs);
  timer.unref();
  const watcher: TransitionWatcher = {
    phase: (name) => samples.get(name)?.phase,
    refresh,
    samples: () => [...samples.values()],
    close: () => {
      closed = true;
      clearInterval(timer);
      unobserve();
    },
  };
  const unobserve = observeTransitions(() => watcher.samples());
  return watcher;
}
