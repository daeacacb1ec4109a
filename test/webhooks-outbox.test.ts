/**
 * The webhook outbox on real PostgreSQL: the event sink, given a unit of
 * work's domain events before its COMMIT, writes one event row and one
 * delivery per enabled endpoint that subscribed and may hear it (a seller in
 * the audience, any admin), in that transaction: a unit that rolls back
 * leaves nothing. Its `webhooks.deliver` jobs: one for the unit's
 * deliveries (one per `DELIVER_BATCH_MAX` of them). The checkout's own
 * events and the worker: test/webhooks-checkout.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { unitOfWork } from '../src/db/unit-of-work.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { createLoaders } from '../src/modules/registry.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { DELIVER_JOB_ATTEMPTS, DELIVER_TASK } from '../src/modules/webhooks/queue.js';
import { webhookEventSink, type SinkEvent } from '../src/modules/webhooks/sink.js';
import { writeOutbox } from '../src/modules/webhooks/webhook.repository.js';
import { seeder } from './helpers/seed.js';
import { createTestAuthRuntime, jobScope } from './helpers/scope.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let auth: AuthRuntime;
let customer: UserRow;
let seller: UserRow;
let otherSeller: UserRow;
let admin: UserRow;
const endpoints: Record<string, string> = {};

async function endpoint(owner: UserRow, events: string[], enabled = true): Promise<string> {
  const row = await server.db
    .insertInto('webhook_endpoints')
    .values({ owner_id: owner.id, url: 'https://93.184.215.14/hooks', events, secret_sealed: 'v1.none.AA.AA', enabled })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

beforeAll(async () => {
  server = await startTestServer();
  auth = await createTestAuthRuntime();
  const seed = seeder(server.db);
  [customer, seller, otherSeller, admin] = [await seed.user(), await seed.user({ role: 'SELLER' }), await seed.user({ role: 'SELLER' }), await seed.user({ role: 'ADMIN' })];
  endpoints['seller'] = await endpoint(seller, ['order.created', 'order.paid']);
  endpoints['sellerPaidOnly'] = await endpoint(seller, ['order.paid']);
  endpoints['sellerDisabled'] = await endpoint(seller, ['order.created'], false);
  endpoints['otherSeller'] = await endpoint(otherSeller, ['order.created']);
  endpoints['admin'] = await endpoint(admin, ['order.created']);
  endpoints['customer'] = await endpoint(customer, ['order.created']);
});

afterAll(async () => {
  await auth.close();
  await server.close();
});

const scope = () => jobScope({ db: server.db, auth, createLoaders, transitions: server.app.scopeDeps.transitions });
const orderId = '5b9a9d8e-0000-4000-8000-00000000000a';
const created = (): SinkEvent => ({ type: 'order.created', data: { orderId }, audience: [customer.id, seller.id], occurredAt: new Date('2026-12-07T10:00:00Z') });

async function deliveriesOf(endpointId: string | undefined) {
  return server.db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select(['d.id', 'd.status', 'e.type', 'e.payload'])
    .where('d.endpoint_id', '=', endpointId ?? '')
    .execute();
}

describe('the webhook event sink', () => {
  it("delivers to the audience's sellers and to admins that subscribed, once each, and to nobody else", async () => {
    await unitOfWork(scope(), (unit) => webhookEventSink.beforeCommit(unit, [created()]));
    const order = { id: toGlobalId('Order', orderId), status: 'PENDING_PAYMENT' };
    expect(await deliveriesOf(endpoints['seller'])).toEqual([{ id: expect.any(String), status: 'PENDING', type: 'order.created', payload: { order } }]);
    expect(await deliveriesOf(endpoints['admin'])).toHaveLength(1);
    for (const name of ['sellerPaidOnly', 'sellerDisabled', 'otherSeller', 'customer']) expect({ name, rows: await deliveriesOf(endpoints[name]) }).toEqual({ name, rows: [] });
  });

  it('writes nothing when the unit of work rolls back after it ran', async () => {
    const before = (await deliveriesOf(endpoints['seller'])).length;
    const events = await server.db.selectFrom('webhook_events').select('id').execute();
    await expect(
      unitOfWork(scope(), async (unit) => {
        await webhookEventSink.beforeCommit(unit, [created()]);
        throw new Error('injected failure after the sink');
      }),
    ).rejects.toThrow('injected failure');
    expect(await deliveriesOf(endpoints['seller'])).toHaveLength(before);
    expect(await server.db.selectFrom('webhook_events').select('id').execute()).toHaveLength(events.length);
  });

  it('writes nothing for an event no endpoint hears, or of a type webhooks do not carry', async () => {
    const events = await server.db.selectFrom('webhook_events').select('id').execute();
    await unitOfWork(scope(), (unit) =>
      webhookEventSink.beforeCommit(unit, [
        { type: 'order.refunded', data: { orderId }, audience: [seller.id], occurredAt: new Date() },
        { type: 'user.signed_up', data: { userId: customer.id }, audience: [customer.id], occurredAt: new Date() },
      ]),
    );
    expect(await server.db.selectFrom('webhook_events').select('id').execute()).toHaveLength(events.length);
  });

  it('stops delivering to an admin who is no longer one', async () => {
    await server.db.updateTable('users').set({ role: 'CUSTOMER' }).where('id', '=', admin.id).execute();
    const before = (await deliveriesOf(endpoints['admin'])).length;
    await unitOfWork(scope(), (unit) => webhookEventSink.beforeCommit(unit, [created()]));
    expect(await deliveriesOf(endpoints['admin'])).toHaveLength(before);
    await server.db.updateTable('users').set({ role: 'ADMIN' }).where('id', '=', admin.id).execute();
  });

  it("adds one webhooks.deliver job for the unit's deliveries, and one per batch of them beyond the batch size", async () => {
    const jobsAfter = async (id: string) =>
      (
        await sql<{ id: string; payload: { deliveryIds: string[] } }>`
          SELECT j.id::text AS id, j.payload FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
           WHERE t.identifier = ${DELIVER_TASK} AND j.id > ${id}::bigint ORDER BY j.id`.execute(server.db)
      ).rows;
    const last = async () => (await sql<{ id: string }>`SELECT coalesce(max(id), 0)::text AS id FROM graphile_worker._private_jobs`.execute(server.db)).rows[0]?.id ?? '0';

    const heard = async () => [...(await deliveriesOf(endpoints['seller'])), ...(await deliveriesOf(endpoints['admin']))].map((row) => row.id);
    const [before, earlier] = [await last(), new Set(await heard())];
    await unitOfWork(scope(), (unit) => webhookEventSink.beforeCommit(unit, [created()]));
    const written = (await heard()).filter((id) => !earlier.has(id));
    expect(written).toHaveLength(2);
    expect((await jobsAfter(before)).map((job) => [...job.payload.deliveryIds].sort())).toEqual([written.sort()]);

    // Three events heard by two endpoints each, two deliveries a job: three jobs, every delivery in one of them.
    const batched = await last();
    const rows = await unitOfWork(scope(), (unit) =>
      writeOutbox(unit.db, [1, 2, 3].map(() => ({ type: 'order.created', payload: {}, occurredAt: new Date(), audience: [seller.id] })), {
        task: DELIVER_TASK,
        maxAttempts: DELIVER_JOB_ATTEMPTS,
        batchSize: 2,
        payloadExtra: {},
      }),
    );
    expect(rows).toHaveLength(6);
    const jobs = await jobsAfter(batched);
    expect(jobs.map((row) => row.payload.deliveryIds.length)).toEqual([2, 2, 2]);
    expect(jobs.flatMap((row) => row.payload.deliveryIds).sort()).toEqual(rows.map((row) => row.delivery_id).sort());
  });
});
