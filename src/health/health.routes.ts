import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { pendingMigrations } from '../db/migrator.js';
import { pingDatabase } from './health.repository.js';

/**
 * Liveness says the process answers; readiness says it can serve traffic:
 * the database answers and its schema is at the latest migration.
 */
export function registerHealthRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (request, reply) => {
    let pending: string[];
    try {
      await pingDatabase(db);
      pending = await pendingMigrations(db);
    } catch (error) {
      request.log.warn({ err: error }, 'readiness: database unreachable');
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
    if (pending.length > 0) {
      return reply.code(503).send({ status: 'unavailable', reason: 'migrations pending', pending });
    }
    return { status: 'ok' };
  });
}
