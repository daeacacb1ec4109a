/**
 * The scheduled purge of expired idempotency records: a cross-cutting task
 * (idempotency is no module), registered with the worker by src/jobs/system-tasks.ts.
 */
import { continuePurge, purgePayload } from '../jobs/purge.js';
import { defineTask, type Schedule } from '../jobs/task.js';
import { purgeExpiredKeys } from './idempotency.service.js';

export const idempotencyTasks = {
  /** Deletes records past their retention (24 h after their request), a bounded batch per statement. */
  'idempotency.purgeKeys': defineTask({
    payload: purgePayload,
    maxAttempts: 3,
    async run(scope, payload) {
      await continuePurge(scope, 'idempotency.purgeKeys', await purgeExpiredKeys(scope, payload.batchSize), payload);
    },
  }),
};

/** Hourly, at minute 7 (records live 24 h: an hour more costs nothing). */
export const idempotencySchedules: readonly Schedule[] = ['7 * * * * idempotency.purgeKeys ?max=3'];
