import type { Migration } from 'kysely';

import { moduleMigrations } from '../src/modules/registry.js';
import * as m0007 from './2026_11_25_0007_idempotency.js';
import * as m0009 from './2026_12_07_0009_idempotency_credential.js';
import * as m0011 from './2026_12_07_0011_job_queue.js';
import * as m0015 from './2026_12_08_0015_schema_transitions.js';

/**
 * Every migration, by name: each module's (its descriptor's `migrations`,
 * src/modules/module.ts) and the cross-cutting ones below, which belong to
 * no module. Listed statically (not discovered by readdir) so the same code
 * runs under tsx, compiled JS and jest's ESM loader; a test fails when a file
 * in this folder is missing here.
 */
export const migrations: Record<string, Migration> = {
  ...moduleMigrations,
  '2026_11_25_0007_idempotency': m0007,
  '2026_12_07_0009_idempotency_credential': m0009,
  // The job queue (graphile-worker's schema): cross-cutting like src/jobs/.
  '2026_12_07_0011_job_queue': m0011,
  // Phased schema changes' shared state (src/transitions/): cross-cutting like the job queue.
  '2026_12_08_0015_schema_transitions': m0015,
};
