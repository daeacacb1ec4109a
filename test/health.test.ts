import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Migration } from 'kysely';

import { migrations } from '../migrations/index.js';
import { mayWait, rollbackOne, migrateToLatest } from '../src/db/migrator.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

describe('health', () => {
  it('reports the process live', async () => {
    const res = await server.request('/health/live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('reports ready when the database answers and migrations are current', async () => {
    const res = await server.request('/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('reports not ready, with the reason, while a migration is pending', async () => {
    // Newest first, down to one the code needs: a migration that may wait for its backfill (a contract) alone does not count.
    const undone: string[] = [];
    do {
      const { results } = await rollbackOne(server.db);
      undone.unshift(results?.[0]?.migrationName ?? '');
    } while (mayWait(migrations[undone[0] ?? ''] as Migration));
    try {
      const res = await server.request('/health/ready');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', reason: 'migrations pending', pending: undone });
    } finally {
      await migrateToLatest(server.db);
    }
  });
});

describe('health without a database', () => {
  it('reports not ready when the database is unreachable, and still live', async () => {
    const unreachable = await startTestServer();
    try {
      await unreachable.db.destroy();
      // The app's own pool is separate; point it at nothing by dropping the database under it.
      await unreachable.dropDatabase();
      const ready = await unreachable.request('/health/ready');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
      expect((await unreachable.request('/health/live')).status).toBe(200);
    } finally {
      await unreachable.close();
    }
  });
});
