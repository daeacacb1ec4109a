/**
 * Webhooks end to end on real PostgreSQL with the real job worker and a real
 * receiver on 127.0.0.1 verifying with `standardwebhooks`: a checkout's
 * `order.created` is written with its deliveries and `webhooks.deliver` jobs
 * in the checkout's transaction (an injected failure after the stock update
 * leaves no delivery and no job), each seller's endpoint receives its own
 * order once, a failing receiver is retried by the queue on the schedule
 * until it answers, and the outbox costs a checkout the same one statement
 * whether endpoints are subscribed or not.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type KyselyPlugin } from 'kysely';
import { pino } from 'pino';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { startWorker, type JobWorker } from '../src/jobs/worker.js';
import { checkout } from '../src/modules/orders/checkout.service.js';
import { eventSinks, type AppLoaders } from '../src/modules/registry.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { newSigningSecret, sealSecret } from '../src/modules/webhooks/signing.js';
import type { EventSink } from '../src/scope/events.js';
import type { ScopeDeps } from '../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { startReceiver, verified, type Answer, type Receiver } from './helpers/webhook-receiver.js';

let database: TestDatabase;
let auth: AuthRuntime;
let deps: ScopeDeps<AppLoaders>;
let worker: JobWorker;
const receivers: Receiver[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  auth = await createTestAuthRuntime();
  deps = {
    ...testDeps(database.db, auth),
    eventSinks,
    webhooks: { allowPrivateTargets: true, timeoutMs: 2000, retryBaseMs: 20, maxEndpoints: 10, disableAfterHours: 72 },
  };
  worker = await startWorker({ deps, log: pino({ level: 'silent' }), connectionString: database.url, config: { concurrency: 4, pollIntervalMs: 200, shutdownTimeoutMs: 5000 }, schedules: [] });
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(async () => {
  await worker.stop();
  await auth.close();
  await database.drop();
});

async function receiver(answer?: (n: number) => Answer): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

/** A seller with an endpoint subscribed to order.created at the receiver; its secret. */
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
const deliverJobs = async () =>
  Number(
    (
      await sql<{ n: string }>`SELECT count(*) AS n FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = 'webhooks.deliver'`.execute(
        database.db,
      )
    ).rows[0]?.n ?? 0,
  );

describe('a checkout', () => {
  it("delivers order.created to each seller's endpoint once, about that seller's order, signed", async () => {
    const [targetA, targetB] = [await receiver(), await receiver()];
    const [a, b] = [await sellerWithEndpoint(targetA), await sellerWithEndpoint(targetB)];
    const seed = seeder(database.db);
    const [productA, productB] = [await seed.product({ seller: a.seller, stock: 5 }), await seed.product({ seller: b.seller, stock: 5 })];
    const buyer = await seed.user();
    const result = await checkout(jobScope(deps, viewerOf(buyer)), { items: [{ productId: productA.id, quantity: 1 }, { productId: productB.id, quantity: 1 }] });
    const orders = result.orders ?? [];
    expect(orders).toHaveLength(2);

    for (const [owner, target] of [[a, targetA], [b, targetB]] as const) {
      await until('the delivery', async () => ((await deliveriesOf(owner.endpointId)).every((row) => row.status === 'DELIVERED') && target.received.length > 0 ? true : undefined));
      const [message] = target.received;
      if (!message) throw new Error('no message');
      const body = verified(owner.secret, message) as { type: string; data: { order: { id: string } } };
      const own = orders.find((order) => order.seller_id === owner.seller.id);
      expect(body).toMatchObject({ type: 'order.created', data: { order: { id: toGlobalId('Order', own?.id ?? ''), status: 'PENDING_PAYMENT' } } });
      expect(await deliveriesOf(owner.endpointId)).toHaveLength(1);
    }
    await until('the queue to empty', async () => ((await deliverJobs()) === 0 ? true : undefined));
    expect([targetA.received.length, targetB.received.length]).toEqual([1, 1]);
  });

  it('leaves no delivery and no job when it rolls back after the stock update', async () => {
    const target = await receiver();
    const owner = await sellerWithEndpoint(target);
    const seed = seeder(database.db);
    const product = await seed.product({ seller: owner.seller, stock: 5 });
    const failing: EventSink = {
      name: 'fails after the webhook sink',
      beforeCommit: () => Promise.reject(new Error('injected failure')),
    };
    const scope = jobScope({ ...deps, eventSinks: [...eventSinks, failing] }, viewerOf(await seed.user()));
    await expect(checkout(scope, { items: [{ productId: product.id, quantity: 1 }] })).rejects.toThrow('injected failure');
    expect(await deliveriesOf(owner.endpointId)).toEqual([]);
    expect(await deliverJobs()).toBe(0);
    expect(await database.db.selectFrom('webhook_events').select('id').where(sql<boolean>`payload::text LIKE ${'%' + toGlobalId('Product', product.id) + '%'}`).execute()).toEqual([]);
    expect(target.received).toEqual([]);
  });

  it('is retried by the queue after 500 three times and delivered on the 4th attempt, backoff in the log', async () => {
    const target = await receiver((n) => ({ status: n <= 3 ? 500 : 200 }));
    const owner = await sellerWithEndpoint(target);
    const seed = seeder(database.db);
    const product = await seed.product({ seller: owner.seller, stock: 5 });
    await checkout(jobScope(deps, viewerOf(await seed.user())), { items: [{ productId: product.id, quantity: 1 }] });
    const [delivery] = await until('the delivery to succeed', async () => {
      const rows = await deliveriesOf(owner.endpointId);
      return rows[0]?.status === 'DELIVERED' ? rows : undefined;
    });
    expect(delivery).toMatchObject({ attempt_count: 4, last_status_code: 200 });
    const log = await database.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', delivery?.id ?? '').orderBy('number').execute();
    expect(log.map((attempt) => attempt.status_code)).toEqual([500, 500, 500, 200]);
    log.slice(0, 3).forEach((attempt, index) => {
      const nominal = 20 * 4 ** index;
      expect((attempt.next_attempt_at?.getTime() ?? 0) - attempt.started_at.getTime()).toBeGreaterThanOrEqual(nominal * 0.8 - 1);
      // The queue ran the next attempt no earlier than scheduled.
      expect(log[index + 1]?.started_at.getTime()).toBeGreaterThanOrEqual((attempt.next_attempt_at?.getTime() ?? 0) - 5);
    });
    expect(new Set(target.received.map((message) => message.headers['webhook-id'])).size).toBe(1);
  });

  it("runs as many statements with both sellers' endpoints subscribed as with none: one outbox statement for all its events", async () => {
    const seed = seeder(database.db);
    const [targetA, targetB] = [await receiver(), await receiver()];
    const subscribed = [await sellerWithEndpoint(targetA), await sellerWithEndpoint(targetB)].map((owner) => owner.seller);
    const unsubscribed = [await seed.user({ role: 'SELLER' }), await seed.user({ role: 'SELLER' })];
    /** Statements a two-seller checkout runs (every query through the scope's handle, its transaction's included). */
    const statementsOf = async (sellers: UserRow[]) => {
      let statements = 0;
      const counting: KyselyPlugin = {
        transformQuery: (args) => {
          statements += 1;
          return args.node;
        },
        transformResult: (args) => Promise.resolve(args.result),
      };
      const products = [await seed.product({ seller: sellers[0], stock: 5 }), await seed.product({ seller: sellers[1], stock: 5 })];
      const scope = jobScope({ ...deps, db: database.db.withPlugin(counting) }, viewerOf(await seed.user()));
      const result = await checkout(scope, { items: products.map((product) => ({ productId: product.id, quantity: 1 })) });
      expect(result.orders).toHaveLength(2);
      return statements;
    };
    const none = await statementsOf(unsubscribed);
    expect(await statementsOf(subscribed)).toBe(none);
    for (const owner of subscribed) {
      await until('the delivery', async () => ((await database.db.selectFrom('webhook_deliveries as d').innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id').select('d.status').where('e.owner_id', '=', owner.id).execute()).some((row) => row.status === 'DELIVERED') ? true : undefined));
    }
    expect([targetA.received.length, targetB.received.length]).toEqual([1, 1]);
  });
});
