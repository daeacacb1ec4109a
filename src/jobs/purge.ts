/**
 * Bounded purges for scheduled tasks: rows deleted by statements of at most
 * `batchSize` rows, at most `maxBatches` statements per run, in the task's
 * unit of work; a run that stops on a full batch asks for another run at
 * once, so a backlog is worked off in short transactions.
 */
import { z } from 'zod';

import type { Scope } from '../scope/scope.js';
import { enqueueJob } from './enqueue.js';
import type { TaskName } from './task.js';

export const PURGE_BATCH_SIZE = 1000;
export const PURGE_BATCHES_PER_RUN = 20;

/** The payload of a purge task: nothing, or a smaller batch (tests, a careful first run). */
export const purgePayload = z.object({ batchSize: z.number().int().min(1).max(10_000).optional() }).strict();

export interface PurgeResult {
  deleted: number;
  statements: number;
  /** The last statement deleted a full batch: there may be more. */
  more: boolean;
}

/** Runs `deleteBatch(limit)` until it deletes fewer than `batchSize` rows, or `maxBatches` times. */
export async function deleteInBatches(
  deleteBatch: (limit: number) => Promise<number>,
  { batchSize = PURGE_BATCH_SIZE, maxBatches = PURGE_BATCHES_PER_RUN }: { batchSize?: number | undefined; maxBatches?: number } = {},
): Promise<PurgeResult> {
  let deleted = 0;
  for (let statements = 1; ; statements += 1) {
    const count = await deleteBatch(batchSize);
    deleted += count;
    if (count < batchSize) return { deleted, statements, more: false };
    if (statements >= maxBatches) return { deleted, statements, more: true };
  }
}

/**
 * After a purge run in a task: logs what it deleted and, when it stopped on a
 * full batch, enqueues the next run of the same task (in the same unit of
 * work: it exists once this run's deletions commit).
 */
export async function continuePurge(scope: Scope, task: TaskName, result: PurgeResult, payload: z.output<typeof purgePayload>): Promise<void> {
  if (result.deleted > 0) scope.log.info({ deleted: result.deleted, statements: result.statements, more: result.more }, 'purged');
  if (result.more) await enqueueJob(scope, { task, payload, jobKey: `${task}:continue` });
}
