/**
 * The backfill of a phased schema change (./transition.ts): the rows
 * written before the expand get their new shape, in batches, through the
 * job queue. A module supplies one batch (`BackfillBatch`: the rows after a
 * key, in key order, at most a limit); this runs them:
 *
 * - each batch is one short transaction: it locks the transition's row in
 *   `schema_transitions` (so two runs never overlap), does the batch, and
 *   moves the cursor and the counts; a batch that fails or dies with its
 *   worker rolls back whole, and the next run starts from the committed
 *   cursor. A batch therefore counts once or not at all;
 * - a batch is at most `batchSize` rows (bounded by the payload's schema),
 *   and the run waits `pauseMs` between batches: the throttle that leaves
 *   the database to the traffic;
 * - one job runs for at most `runMs` (default 10 s), then adds the next job
 *   (same payload, one job key per transition) and ends, so a backfill never
 *   holds a worker slot, or a shutdown, for its whole length;
 * - it refuses to run while this instance does not write the new shape
 *   (before the expand): whatever it filled could be overwritten by a write
 *   of the old shape only.
 *
 * Progress is in `schema_transitions` and in /metrics
 * (`schema_transition_backfill_rows`, `schema_transition_backfill_batches_total`).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

import { z } from 'zod';

import { unitOfWork } from '../db/unit-of-work.js';
import { enqueueJob } from '../jobs/enqueue.js';
import { defineTask, type TaskDefinition } from '../jobs/task.js';
import { observeBackfillBatch } from '../observability/transition-metrics.js';
import type { Scope } from '../scope/scope.js';
import { writesNewShape, type BackfillBatch, type TransitionDefinition, type TransitionName } from './transition.js';
import { lockTransitionRow, recordBackfillBatch } from './transitions.repository.js';

export const BACKFILL_LIMITS = {
  defaultBatchSize: 500,
  maxBatchSize: 5_000,
  defaultPauseMs: 100,
  maxPauseMs: 60_000,
  /** Longest a backfill job runs (batches started before it is up) before it hands over to the next job. */
  defaultRunMs: 10_000,
  minRunMs: 100,
  maxRunMs: 600_000,
} as const;

/** The backfill task's payload: the batch size, the pause between batches, and how long one job runs. */
export const backfillPayload = z
  .object({
    batchSize: z.number().int().min(1).max(BACKFILL_LIMITS.maxBatchSize).default(BACKFILL_LIMITS.defaultBatchSize),
    pauseMs: z.number().int().min(0).max(BACKFILL_LIMITS.maxPauseMs).default(BACKFILL_LIMITS.defaultPauseMs),
    runMs: z.number().int().min(BACKFILL_LIMITS.minRunMs).max(BACKFILL_LIMITS.maxRunMs).default(BACKFILL_LIMITS.defaultRunMs),
  })
  .strict();

export type BackfillSettings = z.output<typeof backfillPayload>;

/** `completed`: nothing left; `paused`: the run's time is up; `stopped`: the worker is shutting down. */
export type BackfillOutcome = 'completed' | 'paused' | 'stopped';

export interface BackfillRun extends Pick<BackfillSettings, 'batchSize' | 'pauseMs'> {
  /** Stop after this long (ms) with `paused`; default: run to the end. */
  budgetMs?: number;
  signal?: AbortSignal;
}

/** The job key of a transition's backfill: one waiting job per transition. */
export function backfillJobKey(transition: TransitionName): string {
  return `backfill:${transition}`;
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms === 0) return;
  await delay(ms, undefined, signal ? { signal } : {}).catch((error: unknown) => {
    if (!signal?.aborted) throw error;
  });
}

/**
 * Runs batches of `transition`'s backfill until it completes, its budget is
 * spent or `signal` aborts. `scope` must be outside any unit of work: each
 * batch is a unit of its own.
 */
export async function runBackfill(scope: Scope, transition: TransitionName, batch: BackfillBatch, run: BackfillRun): Promise<BackfillOutcome> {
  if (scope.unit) throw new Error('runBackfill opens a unit of work per batch: call it outside one');
  if (!writesNewShape(scope.deps.transitions, transition)) {
    throw new Error(`${transition}: this instance does not write the new shape yet (its expand migration has not run, or TRANSITION_REFRESH_MS has not passed since); the backfill runs after it`);
  }
  const started = performance.now();
  for (;;) {
    const batchStarted = performance.now();
    let step: { done: boolean; scanned: number; changed: number };
    try {
      step = await unitOfWork(
        scope,
        async (unit) => {
          const row = await lockTransitionRow(unit.db, transition);
          if (!row) throw new Error(`${transition} has no row in schema_transitions: start its backfill with \`npm run db:transition -- backfill ${transition}\``);
          if (row.backfill_completed_at) return { done: true, scanned: 0, changed: 0 };
          const result = await batch(unit, row.backfill_cursor, run.batchSize);
          const done = result.scanned < run.batchSize;
          await recordBackfillBatch(unit.db, transition, { cursor: result.last ?? row.backfill_cursor, scanned: result.scanned, changed: result.changed, completed: done });
          return { done, scanned: result.scanned, changed: result.changed };
        },
        { rerunnable: true },
      );
    } catch (error) {
      observeBackfillBatch(transition, 'error', 0);
      throw error;
    }
    observeBackfillBatch(transition, 'ok', (performance.now() - batchStarted) / 1000);
    scope.log.debug({ transition, scanned: step.scanned, changed: step.changed }, 'backfill batch');
    if (step.done) {
      scope.log.info({ transition }, 'backfill completed');
      return 'completed';
    }
    if (run.signal?.aborted) return 'stopped';
    if (run.budgetMs !== undefined && performance.now() - started >= run.budgetMs) return 'paused';
    await pause(run.pauseMs, run.signal);
    if (run.signal?.aborted) return 'stopped';
  }
}

/**
 * The task that runs a transition's backfill (a module's descriptor lists
 * it under `tasks`, named `<module>.<verb>`): batches for up to the
 * payload's `runMs`, then the next job with the same payload.
 */
export function backfillTask(transition: Pick<TransitionDefinition, 'name' | 'backfill'>): TaskDefinition<unknown, typeof backfillPayload> {
  const { name, backfill } = transition;
  return defineTask<unknown, typeof backfillPayload>({
    payload: backfillPayload,
    // Batches open their own short units: no transaction is held across the pauses.
    unit: false,
    async run(scope, payload, job) {
      const outcome = await runBackfill(scope, name, backfill.batch, { ...payload, budgetMs: payload.runMs, ...(job.signal ? { signal: job.signal } : {}) });
      if (outcome === 'completed') return;
      if (outcome === 'paused') await pause(payload.pauseMs, job.signal);
      await unitOfWork(scope, (unit) => enqueueJob(unit, { task: backfill.task, payload, jobKey: backfillJobKey(name) }));
    },
  });
}
