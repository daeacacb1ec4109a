/**
 * The job queue (src/jobs/): a job is enqueued in its caller's unit of work
 * (a rollback leaves none, a commit exactly one) and runs once in the
 * in-process worker, in a unit of work of its own (or, for a task declared
 * `unit: false`, in the units it opens), with a scope built like a request's; an invalid payload fails the job for good; a job's span
 * continues the trace of the code that enqueued it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { sql } from 'kysely';
import { pino } from 'pino';
import { z } from 'zod';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { unitOfWork } from '../src/db/unit-of-work.js';
import { enqueueJob } from '../src/jobs/enqueue.js';
import { defineTask, type JobInfo, type TaskDefinition } from '../src/jobs/task.js';
import { startWorker, type JobWorker } from '../src/jobs/worker.js';
import { checkout } from '../src/modules/orders/checkout.service.js';
import type { AppLoaders } from '../src/modules/registry.js';
import { registry } from '../src/observability/metrics.js';
import { startTracing, tracer, type Tracing } from '../src/observability/tracing.js';
import type { EventSink } from '../src/scope/events.js';
import type { ScopeDeps } from '../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';

let database: TestDatabase;
let auth: AuthRuntime;
let deps: ScopeDeps<AppLoaders>;
let worker: JobWorker;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();

interface Run {
  payload: { orderId: string };
  job: JobInfo;
  requestId: string;
  inUnit: boolean;
  orderVisible: boolean;
}
const runs: Run[] = [];
const ownUnitRuns: Array<{ key: string; inUnit: boolean }> = [];

const tasks = new Map<string, TaskDefinition<AppLoaders>>([
  [
    'tests.noteOrder',
    defineTask({
      payload: z.object({ orderId: z.string().uuid() }).strict(),
      maxAttempts: 2,
      async run(scope, payload, job) {
        const order = await scope.db.selectFrom('orders').select('id').where('id', '=', payload.orderId).executeTakeFirst();
        runs.push({ payload, job, requestId: scope.request.id, inUnit: scope.unit !== null, orderVisible: order !== undefined });
      },
    }),
  ],
  [
    'tests.ownUnits',
    defineTask({
      payload: z.object({ key: z.string() }).strict(),
      maxAttempts: 1,
      unit: false,
      async run(scope, { key }) {
        ownUnitRuns.push({ key, inUnit: scope.unit !== null });
        await unitOfWork(scope, (unit) => sql`INSERT INTO own_units_probe (key) VALUES (${key})`.execute(unit.db));
        throw new Error('fails after its own unit committed');
      },
    }),
  ],
]);

/** What a webhooks module's sink does: one job per order created, in the checkout's transaction. */
const enqueueingSink: EventSink = {
  name: 'enqueue per order',
  async beforeCommit(scope, events) {
    for (const event of events) if (event.type === 'order.created') await enqueueJob(scope, { task: 'tests.noteOrder', payload: { orderId: event.data.orderId } });
  },
};

async function jobsFor(orderId: string) {
  return sql<{ id: string; attempts: number; max_attempts: number; last_error: string | null; locked_at: Date | null }>`
    SELECT j.id, j.attempts, j.max_attempts, j.last_error, j.locked_at
      FROM graphile_worker._private_jobs AS j JOIN graphile_worker._private_tasks AS t ON t.id = j.task_id
     WHERE t.identifier = 'tests.noteOrder' AND j.payload->>'orderId' = ${orderId}`
    .execute(database.db)
    .then((result) => result.rows);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  tracing = await startTracing({ exporter: 'none', protocol: 'http/protobuf', serviceName: 'jobs-test' }, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  database = await createTestDatabase();
  auth = await createTestAuthRuntime();
  deps = { ...testDeps(database.db, auth), eventSinks: [enqueueingSink] };
  worker = await startWorker({
    deps,
    log: pino({ level: 'silent' }),
    connectionString: database.url,
    config: { concurrency: 2, pollIntervalMs: 200, shutdownTimeoutMs: 5_000 },
    tasks,
    schedules: [],
  });
});

afterAll(async () => {
  await worker.stop();
  await auth.close();
  await database.drop();
  await tracing.shutdown();
});

async function order(failAfterStock: boolean) {
  const seed = seeder(database.db);
  const buyer = await seed.user();
  const product = await seed.product({ stock: 5 });
  const failing: EventSink = {
    name: 'fails after the stock update',
    beforeCommit: async () => {
      throw new Error('injected failure');
    },
  };
  const scope = jobScope(failAfterStock ? { ...deps, eventSinks: [enqueueingSink, failing] } : deps, viewerOf(buyer));
  return { product, result: checkout(scope, { items: [{ productId: product.id, quantity: 1 }] }) };
}

describe('enqueueing in the unit of work', () => {
  it('leaves no job when the checkout that enqueued it rolls back after the stock update', async () => {
    const { product, result } = await order(true);
    await expect(result).rejects.toThrow('injected failure');
    const jobs = await sql<{ n: string }>`SELECT count(*) AS n FROM graphile_worker._private_jobs WHERE payload::text LIKE ${'%' + product.id + '%'}`.execute(database.db);
    expect(jobs.rows[0]?.n).toBe('0');
    const orders = await database.db.selectFrom('order_items').select('order_id').where('product_id', '=', product.id).execute();
    expect(orders).toEqual([]);
  });

  it('refuses to enqueue outside a unit of work', async () => {
    await expect(enqueueJob(jobScope(deps), { task: 'tests.noteOrder', payload: { orderId: '00000000-0000-4000-8000-000000000000' } })).rejects.toThrow('inside a unit of work');
  });
});

describe('the in-process worker', () => {
  it('runs the job of a committed checkout exactly once, in its own unit, after the commit', async () => {
    const { result } = await order(false);
    const orderId = (await result).orders?.[0]?.id;
    if (!orderId) throw new Error('no order');
    await until('the job to run and complete', async () => ((await jobsFor(orderId)).length === 0 && runs.some((run) => run.payload.orderId === orderId) ? true : undefined));
    const mine = runs.filter((run) => run.payload.orderId === orderId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ inUnit: true, orderVisible: true, job: { attempts: 1, maxAttempts: 25 } });
    expect(mine[0]?.requestId).toBe(`job:${mine[0]?.job.id}`);
    expect(await registry.metrics()).toMatch(/^job_duration_seconds_count\{task="tests_noteorder",outcome="ok"\} [1-9]/m);
  });

  it('fails a job with an invalid payload for good, without running the task or retrying it', async () => {
    const orderId = 'not-a-uuid';
    await unitOfWork(jobScope(deps), (unit) => enqueueJob(unit, { task: 'tests.noteOrder', payload: { orderId } }));
    const [job] = await until('the job to fail', async () => {
      const rows = await jobsFor(orderId);
      return rows[0]?.last_error && rows[0].locked_at === null ? rows : undefined;
    });
    expect(job).toMatchObject({ attempts: 1, max_attempts: 1 });
    expect(job?.last_error).toContain('invalid payload for tests.noteOrder');
    expect(runs.filter((run) => run.payload.orderId === orderId)).toEqual([]);
    expect(await registry.metrics()).toMatch(/^job_failures_total\{task="tests_noteorder",reason="invalid_payload"\} 1$/m);
  });

  it('runs the job under a span continuing the trace of the span that enqueued it', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 5 });
    const traceId = await tracer().startActiveSpan('request', async (span) => {
      await checkout(jobScope(deps, viewerOf(buyer)), { items: [{ productId: product.id, quantity: 1 }] });
      span.end();
      return span.spanContext().traceId;
    });
    const jobSpan = await until('the job span', async () => exporter.getFinishedSpans().find((span) => span.name === 'job tests.noteOrder' && span.spanContext().traceId === traceId));
    expect(jobSpan.attributes['job.task']).toBe('tests.noteOrder');
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('runs a task declared with unit: false outside any unit, so what its own unit committed stays when it then fails', async () => {
    await sql`CREATE TABLE IF NOT EXISTS own_units_probe (key text NOT NULL)`.execute(database.db);
    const key = `own-${Date.now()}`;
    await unitOfWork(jobScope(deps), (unit) => enqueueJob(unit, { task: 'tests.ownUnits', payload: { key } }));
    await until('the job to fail', async () => {
      const result = await sql<{ last_error: string | null; locked_at: Date | null }>`
        SELECT j.last_error, j.locked_at FROM graphile_worker._private_jobs AS j JOIN graphile_worker._private_tasks AS t ON t.id = j.task_id
         WHERE t.identifier = 'tests.ownUnits' AND j.payload->>'key' = ${key}`.execute(database.db);
      const job = result.rows[0];
      return job?.last_error && job.locked_at === null ? job : undefined;
    });
    expect(ownUnitRuns.filter((run) => run.key === key)).toEqual([{ key, inUnit: false }]);
    const probe = await sql<{ key: string }>`SELECT key FROM own_units_probe WHERE key = ${key}`.execute(database.db);
    expect(probe.rows).toEqual([{ key }]);
  });
});
