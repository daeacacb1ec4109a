import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/faults.js';
import { requiredPendingMigrations } from '../db/migrator.js';
import type { ReplicaState } from '../db/replicas.js';
import { pingDatabase } from './health.repository.js';

export interface HealthOptions {
  /** True once graceful shutdown has started: readiness fails at once. */
  isShuttingDown?: () => boolean;
  /** With read replicas: their state, reported in every answer; a replica down or lagging does not fail readiness (its reads go to the primary). */
  replicas?: () => ReplicaState[];
}

/**
 * Liveness says the process answers; readiness says it can serve traffic:
 * it is not shutting down, the database answers and its schema is at the
 * latest migration (but for a contract migration that waits for its
 * backfill: src/db/migrator.ts). Readiness asks the database on every call (no cache), so
 * it turns back to 200 with the first successful round trip after an outage.
 * Read replicas are reported (`replicas`: name, state, lag) but never fail
 * it: without them reads go to the primary.
 */
export function registerHealthRoutes(app: FastifyInstance, db: Kysely<Database>, options: HealthOptions = {}): void {
  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (request, reply) => {
    const replicas = options.replicas ? { replicas: options.replicas() } : {};
    if (options.isShuttingDown?.()) {
      return reply.code(503).header('connection', 'close').send({ status: 'unavailable', reason: 'shutting down', ...replicas });
    }
    let pending: string[];
    try {
      await pingDatabase(db);
      pending = await requiredPendingMigrations(db);
    } catch (error) {
      // An outage is logged once by the pool (src/db/availability.ts), not on every probe.
      request.log[isDatabaseUnavailable(error) ? 'debug' : 'warn']({ db: describeDatabaseError(error) }, 'readiness: database unreachable');
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable', ...replicas });
    }
    if (pending.length > 0) {
      return reply.code(503).send({ status: 'unavailable', reason: 'migrations pending', pending, ...replicas });
    }
    return { status: 'ok', ...replicas };
  });
}
