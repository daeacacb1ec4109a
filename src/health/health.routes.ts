import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/faults.js';
import { pendingMigrations } from '../db/migrator.js';
import { pingDatabase } from './health.repository.js';

export interface HealthOptions {
  /** True once graceful shutdown has started: readiness fails at once. */
  isShuttingDown?: () => boolean;
}

/**
 * Liveness says the process answers; readiness says it can serve traffic:
 * it is not shutting down, the database answers and its schema is at the
 * latest migration. Readiness asks the database on every call (no cache), so
 * it turns back to 200 with the first successful round trip after an outage.
 */
export function registerHealthRoutes(app: FastifyInstance, db: Kysely<Database>, options: HealthOptions = {}): void {
  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (request, reply) => {
    if (options.isShuttingDown?.()) {
      return reply.code(503).header('connection', 'close').send({ status: 'unavailable', reason: 'shutting down' });
    }
    let pending: string[];
    try {
      await pingDatabase(db);
      pending = await pendingMigrations(db);
    } catch (error) {
      // An outage is logged once by the pool (src/db/availability.ts), not on every probe.
      request.log[isDatabaseUnavailable(error) ? 'debug' : 'warn']({ db: describeDatabaseError(error) }, 'readiness: database unreachable');
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
    if (pending.length > 0) {
      return reply.code(503).send({ status: 'unavailable', reason: 'migrations pending', pending });
    }
    return { status: 'ok' };
  });
}
