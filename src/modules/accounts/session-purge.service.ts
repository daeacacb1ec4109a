/** The scheduled purge of ended refresh-token sessions (task `accounts.purgeSessions`, ./index.ts). */
import { continuePurge, deleteInBatches, purgePayload, type PurgeResult } from '../../jobs/purge.js';
import { defineTask } from '../../jobs/task.js';
import type { Scope } from '../../scope/scope.js';
import { deleteEndedSessions } from './session.repository.js';

/**
 * How long the rows of an ended session family are kept (for the audit trail
 * of a late reuse attempt, which is refused either way): 7 days.
 */
export const SESSION_RETENTION_SECONDS = 7 * 24 * 3600;

/** Deletes the rows of session families ended more than SESSION_RETENTION_SECONDS ago, `batchSize` rows per statement. */
export function purgeEndedSessions(scope: Scope, batchSize?: number): Promise<PurgeResult> {
  return deleteInBatches((limit) => deleteEndedSessions(scope.db, limit, SESSION_RETENTION_SECONDS), { batchSize });
}

export const purgeSessionsTask = defineTask({
  payload: purgePayload,
  maxAttempts: 3,
  async run(scope, payload) {
    await continuePurge(scope, 'accounts.purgeSessions', await purgeEndedSessions(scope, payload.batchSize), payload);
  },
});
