/**
 * The scheduled purges, run as jobs by the worker: expired idempotency
 * records, and the rows of refresh-token session families that ended more
 * than 7 days ago, in bounded batches; a run that stops on a full batch
 * queues the next run. Nothing live, nor a family still in its retention,
 * is touched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { pino } from 'pino';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { unitOfWork } from '../src/db/unit-of-work.js';
import { enqueueJob } from '../src/jobs/enqueue.js';
import { PURGE_BATCHES_PER_RUN } from '../src/jobs/purge.js';
import type { TaskName } from '../src/jobs/task.js';
import { startWorker, type JobWorker } from '../src/jobs/worker.js';
import type { AppLoaders } from '../src/modules/registry.js';
import type { ScopeDeps } from '../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createTestAuthRuntime, jobScope, testDeps } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';

let database: TestDatabase;
let auth: AuthRuntime;
let deps: ScopeDeps<AppLoaders>;
let worker: JobWorker;

beforeAll(async () => {
  database = await createTestDatabase();
  auth = await createTestAuthRuntime();
  deps = testDeps(database.db, auth);
  // Every task the application declares; no crontab (the test enqueues the runs itself).
  worker = await startWorker({ deps, log: pino({ level: 'silent' }), connectionString: database.url, config: { concurrency: 1, pollIntervalMs: 200, shutdownTimeoutMs: 5_000 }, schedules: [] });
});

afterAll(async () => {
  await worker.stop();
  await auth.close();
  await database.drop();
});

const DAY = 24 * 3600 * 1000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY);

async function runPurge(task: TaskName, batchSize: number): Promise<void> {
  await unitOfWork(jobScope(deps), (unit) => enqueueJob(unit, { task, payload: { batchSize } }));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const left = await sql<{ n: string; failed: string }>`
      SELECT count(*) AS n, count(*) FILTER (WHERE last_error IS NOT NULL) AS failed FROM graphile_worker.jobs WHERE task_identifier = ${task}`.execute(database.db);
    if (left.rows[0]?.failed !== '0') throw new Error(`${task} failed`);
    if (left.rows[0]?.n === '0') return;
    if (Date.now() > deadline) throw new Error(`${task} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the session purge', () => {
  async function family(userId: string, rows: Array<{ createdAt: Date; expiresAt: Date; revokedAt?: Date }>): Promise<string[]> {
    const familyId = randomUUID();
    const ids: string[] = [];
    for (const row of rows) {
      const inserted = await database.db
        .insertInto('sessions')
        .values({
          user_id: userId,
          family_id: familyId,
          token_hash: randomBytes(32),
          created_at: row.createdAt,
          signed_in_at: rows[0]?.createdAt ?? row.createdAt,
          expires_at: row.expiresAt,
          revoked_at: row.revokedAt ?? null,
          revoked_reason: row.revokedAt ? 'LOGOUT' : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      // Rotation: the previous row points at this one.
      const previous = ids.at(-1);
      if (previous) await database.db.updateTable('sessions').set({ replaced_by: inserted.id }).where('id', '=', previous).execute();
      ids.push(inserted.id);
    }
    return ids;
  }

  it('deletes only families ended more than 7 days ago, in batches, over as many runs as it takes', async () => {
    const user = await seeder(database.db).user();
    const live = await family(user.id, [{ createdAt: daysAgo(2), expiresAt: daysAgo(-28) }]);
    // A live family with rotated rows, one of them long expired: its rows detect a token's reuse.
    const rotated = await family(user.id, [
      { createdAt: daysAgo(40), expiresAt: daysAgo(10) },
      { createdAt: daysAgo(1), expiresAt: daysAgo(-29) },
    ]);
    const recentlyRevoked = await family(user.id, [{ createdAt: daysAgo(5), expiresAt: daysAgo(-25), revokedAt: daysAgo(1) }]);
    const recentlyExpired = await family(user.id, [{ createdAt: daysAgo(31), expiresAt: daysAgo(1) }]);
    // More ended rows than one run deletes with batches of 2: the purge needs a second run.
    const endedRows = PURGE_BATCHES_PER_RUN * 2 + 3;
    const ended = await family(user.id, Array.from({ length: endedRows }, (_, i) => ({ createdAt: daysAgo(60 - i * 0.1), expiresAt: daysAgo(30 - i * 0.1) })));
    const revokedLongAgo = await family(user.id, [{ createdAt: daysAgo(20), expiresAt: daysAgo(-10), revokedAt: daysAgo(8) }]);

    await runPurge('accounts.purgeSessions', 2);

    const left = new Set((await database.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).map((row) => row.id));
    for (const id of [...live, ...rotated, ...recentlyRevoked, ...recentlyExpired]) expect(left.has(id)).toBe(true);
    for (const id of [...ended, ...revokedLongAgo]) expect(left.has(id)).toBe(false);
    // The live rotated family still links its rows: a reuse of its old token is still detected.
    const head = await database.db.selectFrom('sessions').select('replaced_by').where('id', '=', rotated[0] ?? '').executeTakeFirstOrThrow();
    expect(head.replaced_by).toBe(rotated[1]);
  });
});

describe('the idempotency record purge', () => {
  it('deletes only records past their retention', async () => {
    const user = await seeder(database.db).user();
    const record = (key: string, expiresAt: Date) => ({
      principal: user.id,
      credential: 'oidc',
      key,
      fingerprint: 'f',
      status: 'IN_PROGRESS' as const,
      claim_id: randomUUID(),
      locked_until: daysAgo(1),
      created_at: daysAgo(2),
      expires_at: expiresAt,
    });
    await database.db
      .insertInto('idempotency_keys')
      .values([...Array.from({ length: 5 }, (_, i) => record(`old-${i}`, daysAgo(0.5))), record('live-1', daysAgo(-0.5)), record('live-2', daysAgo(-0.1))])
      .execute();
    await runPurge('idempotency.purgeKeys', 2);
    const keys = await database.db.selectFrom('idempotency_keys').select('key').where('principal', '=', user.id).orderBy('key').execute();
    expect(keys.map((row) => row.key)).toEqual(['live-1', 'live-2']);
  });
});
