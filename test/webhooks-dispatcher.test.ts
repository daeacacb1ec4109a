/**
 * The webhook dispatcher (src/modules/webhooks/dispatcher.ts) on real
 * PostgreSQL with real receivers on 127.0.0.1 verifying with
 * `standardwebhooks`: in a process that runs the worker, a checkout's
 * deliveries are written leased to the dispatcher, with no job, and attempted
 * after the commit; the sweep attempts what a dead process left (its lease
 * ended, due for longer than the grace) and nothing else; sweeps running at
 * once never take the same delivery; a delivery whose lease may have ended
 * while it waited is claimed again before its attempt, and left alone when
 * another run has taken it.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { pino } from 'pino';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { startWorker, type JobWorker } from '../src/jobs/worker.js';
import { checkout } from '../src/modules/orders/checkout.service.js';
import { eventSinks, type AppLoaders } from '../src/modules/registry.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { claimAttempts } from '../src/modules/webhooks/attempt.service.js';
import { webhookIdOf } from '../src/modules/webhooks/delivery.service.js';
import { Dispatcher, ORPHAN_GRACE_MS } from '../src/modules/webhooks/dispatcher.js';
import { newSigningSecret, sealSecret } from '../src/modules/webhooks/signing.js';
import type { ScopeDeps } from '../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { startReceiver, verified, type Answer, type Receiver } from './helpers/webhook-receiver.js';

let database: TestDatabase;
let auth: AuthRuntime;
let deps: ScopeDeps<AppLoaders>;
const receivers: Receiver[] = [];
const silent = pino({ level: 'silent' });

beforeAll(async () => {
  database = await createTestDatabase();
  auth = await createTestAuthRuntime();
  deps = {
    ...testDeps(database.db, auth),
    eventSinks,
    webhooks: { allowPrivateTargets: true, timeoutMs: 2000, retryBaseMs: 20, maxEndpoints: 10, disableAfterHours: 72 },
  };
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(async () => {
  await auth.close();
  await database.drop();
});

async function receiver(answer?: (n: number) => Answer): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

/** A seller with an endpoint subscribed to order.created at the receiver. */
async function sellerWithEndpoint(target: Receiver): Promise<{ seller: UserRow; secret: string; endpointId: string }> {
  const seller = await seeder(database.db).user({ role: 'SELLER' });
  const secret = newSigningSecret();
  const id = randomUUID();
  await database.db
    .insertInto('webhook_endpoints')
    .values({ id, owner_id: seller.id, url: target.url, events: ['order.created'], secret_sealed: sealSecret(auth.keys, id, secret) })
    .execute();
  return { seller, secret, endpointId: id };
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

const deliveriesOf = (endpointId: string) => database.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).execute();
const attemptsOf = (ids: readonly string[]) => database.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', ids).execute();
const deliverJobs = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM graphile_worker.jobs WHERE task_identifier = 'webhooks.deliver'`.execute(database.db)).rows[0]?.n ?? 0);

/**
 * `n` pending `webhook.test` deliveries to the endpoint, due `dueSecondsAgo`
 * ago, leased to `claimedBy` until `leaseSeconds` from now (negative: ended),
 * as a process that died would leave them. Their ids.
 */
async function leftBehind(endpointId: string, n: number, options: { dueSecondsAgo: number; claimedBy?: string; leaseSeconds?: number }): Promise<string[]> {
  const event = await database.db
    .insertInto('webhook_events')
    .values({ type: 'webhook.test', payload: JSON.stringify({}) as unknown as Record<string, unknown>, occurred_at: new Date() })
    .returning('id')
    .executeTakeFirstOrThrow();
  const rows = await database.db
    .insertInto('webhook_deliveries')
    .values(
      Array.from({ length: n }, () => ({
        endpoint_id: endpointId,
        event_id: event.id,
        next_attempt_at: sql<Date>`now() - make_interval(secs => ${options.dueSecondsAgo})`,
        claimed_by: options.claimedBy ?? null,
        claimed_until: options.leaseSeconds === undefined ? null : sql<Date>`now() + make_interval(secs => ${options.leaseSeconds})`,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

describe('a checkout in a process that runs the worker', () => {
  let worker: JobWorker;

  beforeAll(async () => {
    worker = await startWorker({ deps, log: silent, connectionString: database.url, config: { concurrency: 4, pollIntervalMs: 200, shutdownTimeoutMs: 5000 }, schedules: [] });
  });

  afterAll(async () => {
    await worker.stop();
  });

  it('writes its deliveries leased to the dispatcher, with no job, and the dispatcher delivers each once, signed', async () => {
    const [targetA, targetB] = [await receiver((n) => (n === 1 ? 'hang' : { status: 200 })), await receiver()];
    const [a, b] = [await sellerWithEndpoint(targetA), await sellerWithEndpoint(targetB)];
    const seed = seeder(database.db);
    const [productA, productB] = [await seed.product({ seller: a.seller, stock: 5 }), await seed.product({ seller: b.seller, stock: 5 })];
    const result = await checkout(jobScope(deps, viewerOf(await seed.user())), { items: [{ productId: productA.id, quantity: 1 }, { productId: productB.id, quantity: 1 }] });
    expect(result.orders).toHaveLength(2);

    // A's receiver holds the request: the delivery is still leased to the dispatcher, and no job exists for it.
    await targetA.waitFor(1);
    const [held] = await deliveriesOf(a.endpointId);
    expect(held).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: expect.stringMatching(/^dispatch:/) });
    expect(held?.claimed_until?.getTime()).toBeGreaterThan(Date.now());
    expect(await deliverJobs()).toBe(0);
    targetA.release(200);

    for (const [owner, target] of [[a, targetA], [b, targetB]] as const) {
      const [delivery] = await until('the delivery', async () => {
        const rows = await deliveriesOf(owner.endpointId);
        return rows[0]?.status === 'DELIVERED' ? rows : undefined;
      });
      expect(delivery).toMatchObject({ attempt_count: 1, last_status_code: 200, claimed_by: null, claimed_until: null });
      expect(await attemptsOf([delivery?.id ?? ''])).toMatchObject([{ number: 1, status_code: 200 }]);
      expect(target.received).toHaveLength(1);
      const [message] = target.received;
      if (!message) throw new Error('no message');
      expect(message.headers['webhook-id']).toBe(webhookIdOf(delivery?.id ?? ''));
      expect(verified(owner.secret, message)).toMatchObject({ type: 'order.created' });
    }
    expect(await deliverJobs()).toBe(0);
  });
});

describe('the sweep', () => {
  it('attempts a delivery whose process died (its lease ended, due for longer than the grace), and neither one still leased nor one due only just', async () => {
    const target = await receiver();
    const owner = await sellerWithEndpoint(target);
    const dueLong = ORPHAN_GRACE_MS / 1000 + 10;
    const [dead] = await leftBehind(owner.endpointId, 1, { dueSecondsAgo: dueLong, claimedBy: 'dispatch:dead:1', leaseSeconds: -1 });
    const [leased] = await leftBehind(owner.endpointId, 1, { dueSecondsAgo: dueLong, claimedBy: 'dispatch:alive:1', leaseSeconds: 60 });
    const [recent] = await leftBehind(owner.endpointId, 1, { dueSecondsAgo: 1 });

    const runs = await new Dispatcher(deps, silent, 4).sweep();
    expect(Object.fromEntries(runs)).toEqual({ [dead ?? '']: 'delivered' });
    expect(target.received).toHaveLength(1);
    const [message] = target.received;
    if (!message) throw new Error('no message');
    expect(message.headers['webhook-id']).toBe(webhookIdOf(dead ?? ''));
    expect(verified(owner.secret, message)).toMatchObject({ type: 'webhook.test' });
    const rows = new Map((await deliveriesOf(owner.endpointId)).map((row) => [row.id, row]));
    expect(rows.get(dead ?? '')).toMatchObject({ status: 'DELIVERED', attempt_count: 1, claimed_by: null });
    expect(rows.get(leased ?? '')).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: 'dispatch:alive:1' });
    expect(rows.get(recent ?? '')).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: null });
    expect(await attemptsOf([dead ?? ''])).toMatchObject([{ number: 1, status_code: 200 }]);
  });

  it('never takes a delivery another sweep running at the same time takes: each is sent once', async () => {
    const target = await receiver();
    const owner = await sellerWithEndpoint(target);
    const ids = await leftBehind(owner.endpointId, 160, { dueSecondsAgo: ORPHAN_GRACE_MS / 1000 + 10, claimedBy: 'dispatch:dead:2', leaseSeconds: -1 });
    const sweepers = Array.from({ length: 4 }, () => new Dispatcher(deps, silent, 4));
    const taken: string[] = [];
    // Rounds of four sweeps at once, until nothing is left to take.
    for (let round = 0; round < 10; round += 1) {
      const runs = await Promise.all(sweepers.map((sweeper) => sweeper.sweep()));
      const ran = runs.flatMap((run) => [...run.keys()]);
      if (ran.length === 0) break;
      taken.push(...ran);
    }
    expect(taken).toHaveLength(ids.length);
    expect(new Set(taken).size).toBe(ids.length);
    expect(target.received).toHaveLength(ids.length);
    expect(new Set(target.received.map((message) => message.headers['webhook-id'])).size).toBe(ids.length);
    const rows = await deliveriesOf(owner.endpointId);
    expect(rows.every((row) => row.status === 'DELIVERED' && row.attempt_count === 1)).toBe(true);
    expect(await attemptsOf(ids)).toHaveLength(ids.length);
  });
});

describe('a dispatched delivery whose lease may have ended while it waited', () => {
  it('is claimed again by the same name and delivered when nobody took it, and left alone when another run has', async () => {
    const target = await receiver();
    const owner = await sellerWithEndpoint(target);
    const [free, taken] = await leftBehind(owner.endpointId, 2, { dueSecondsAgo: 1 });
    const scope = jobScope(deps);
    const dispatcher = new Dispatcher(deps, silent, 4);
    const claims = [...(await claimAttempts(scope, [free ?? ''], 'dispatch:slow:1')), ...(await claimAttempts(scope, [taken ?? ''], 'dispatch:slow:2'))];
    expect(claims).toHaveLength(2);
    // Both leases ended; another run took the second over.
    await database.db.updateTable('webhook_deliveries').set({ claimed_until: sql<Date>`now() - interval '1 second'` }).where('id', 'in', [free ?? '', taken ?? '']).execute();
    await database.db.updateTable('webhook_deliveries').set({ claimed_by: 'job:other', claimed_until: sql<Date>`now() + interval '60 seconds'` }).where('id', '=', taken ?? '').execute();

    // By this process's clock the leases have ended already.
    dispatcher.dispatch(claims, performance.now() - 1);
    await dispatcher.stop();

    expect(target.received.map((message) => message.headers['webhook-id'])).toEqual([webhookIdOf(free ?? '')]);
    const rows = new Map((await deliveriesOf(owner.endpointId)).map((row) => [row.id, row]));
    expect(rows.get(free ?? '')).toMatchObject({ status: 'DELIVERED', attempt_count: 1, claimed_by: null });
    expect(rows.get(taken ?? '')).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: 'job:other' });
    expect(await attemptsOf([taken ?? ''])).toEqual([]);
  });
});
