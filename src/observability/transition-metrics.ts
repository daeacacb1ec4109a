/**
 * Metrics of the schema changes made in phases (src/transitions/), in the
 * process registry of ./metrics.ts: each transition's phase as this
 * instance sees it, and its backfill's progress as last read from the
 * database (both from the instance's watcher: no statement at scrape time),
 * plus the batches this process ran and how long each took.
 */
import { Counter, Gauge, Histogram } from 'prom-client';

import { TRANSITION_PHASES, type TransitionName, type TransitionPhase } from '../transitions/phases.js';
import { registry } from './metrics.js';

/** One transition as last read (src/transitions/watcher.ts). */
export interface TransitionSample {
  name: TransitionName;
  phase: TransitionPhase;
  /** Rows the backfill looked at so far, each once. */
  scanned: number;
  /** Rows whose new shape it had to change. */
  changed: number;
  batches: number;
  /** The planner's estimate of the backfilled table's rows. */
  estimatedRows: number;
  startedAt: Date | null;
  completedAt: Date | null;
  switchedAt: Date | null;
}

let source: (() => TransitionSample[]) | undefined;

new Gauge({
  name: 'schema_transition_phase',
  help: 'Phase of each schema change made in phases, as this instance sees it (refreshed every TRANSITION_REFRESH_MS): 1 for the current phase (before, expanded, backfilled, switched, contracted), 0 for the others.',
  labelNames: ['transition', 'phase'] as const,
  registers: [registry],
  collect() {
    for (const sample of source?.() ?? []) {
      for (const phase of TRANSITION_PHASES) this.set({ transition: sample.name, phase }, sample.phase === phase ? 1 : 0);
    }
  },
});

new Gauge({
  name: 'schema_transition_backfill_rows',
  help:
    'Backfill progress of each transition, from the database as this instance last read it: `scanned` (rows looked at, each once), `changed` (rows whose new shape had to change), `estimated_total` (the planner\'s estimate of the table\'s rows). Every instance reports the same backfill.',
  labelNames: ['transition', 'count'] as const,
  registers: [registry],
  collect() {
    for (const sample of source?.() ?? []) {
      this.set({ transition: sample.name, count: 'scanned' }, sample.scanned);
      this.set({ transition: sample.name, count: 'changed' }, sample.changed);
      this.set({ transition: sample.name, count: 'estimated_total' }, sample.estimatedRows);
    }
  },
});

new Gauge({
  name: 'schema_transition_backfill_completed',
  help: 'Whether the backfill of each transition has completed (1) or not (0), as this instance last read it.',
  labelNames: ['transition'] as const,
  registers: [registry],
  collect() {
    for (const sample of source?.() ?? []) this.set({ transition: sample.name }, sample.completedAt || sample.phase === 'contracted' ? 1 : 0);
  },
});

const batches = new Counter({
  name: 'schema_transition_backfill_batches_total',
  help: 'Backfill batches this process ran, by transition and outcome (ok: committed; error: rolled back, to be run again).',
  labelNames: ['transition', 'outcome'] as const,
  registers: [registry],
});

const batchDuration = new Histogram({
  name: 'schema_transition_backfill_batch_seconds',
  help: 'Time of each committed backfill batch in this process (its transaction: locks, the recount, the cursor), by transition.',
  labelNames: ['transition'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Reports `read()`'s samples until the returned function is called (one watcher per process). */
export function observeTransitions(read: () => TransitionSample[]): () => void {
  source = read;
  return () => {
    if (source === read) source = undefined;
  };
}

export function observeBackfillBatch(transition: string, outcome: 'ok' | 'error', seconds: number): void {
  batches.inc({ transition, outcome });
  if (outcome === 'ok') batchDuration.observe({ transition }, seconds);
}
