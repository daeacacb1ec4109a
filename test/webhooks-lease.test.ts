/**
 * A delivery attempt's lease, on real PostgreSQL with a real receiver on
 * 127.0.0.1: the attempt claims the delivery (`claimed_by`, `claimed_until`)
 * in one statement, makes the HTTP call holding no transaction and no row
 * lock, and records the outcome only while the lease is still its own. Two
 * runs never attempt one delivery at once; an ended lease (a run that died)
 * is taken over; the same job takes its own lease back at once. A job of
 * several deliveries (the outbox's) claims those it may in one statement,
 * records each outcome, and its re-run attempts none of them again. The worker
 * processes' side (SIGKILL, two processes): test/webhooks-worker-crash.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { unitOfWork } from '../src/db/unit-of-work.js';
import { createLoaders } from '../src/modules/registry.js';
import { runDeliveries, runDelivery } from '../src/modules/webhooks/webhook.tasks.js';
import { createAccount, type Account } from './helpers/auth.js';
import { createTestAuthRuntime, jobScope } from './helpers/scope.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startReceiver, type Answer, type Receiver } from './helpers/webhook-receiver.js';
import { deliveryRow, register, sendTest } from './helpers/webhooks.js';

let server: TestServer;
let auth: AuthRuntime;
let seller: Account;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_TIMEOUT_MS: '30000', WEBHOOK_MAX_ENDPOINTS: '100' } });
  auth = await createTestAuthRuntime();
  seller = await createAccount(server, { role: 'SELLER' });
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(async () => {
  await auth.close();
  await server.close();
});

async function pendingDelivery(answer?: (n: number) => Answer): Promise<{ target: Receiver; deliveryId: string }> {
  const target = await startReceiver(answer);
  receivers.push(target);
  const endpoint = await register(server, seller, target.url);
  return { target, deliveryId: await sendTest(server, seller, endpoint.id) };
}

const scope = () => jobScope({ db: server.db, auth, createLoaders, transitions: server.app.scopeDeps.transitions, webhooks: server.config.webhooks });

async function lease(deliveryId: string, claimedBy: string, secondsFromNow: number): Promise<void> {
  await server.db
    .updateTable('webhook_deliveries')
    .set({ claimed_by: claimedBy, claimed_until: sql<Date>`now() + make_interval(secs => ${secondsFromNow})` })
    .where('id', '=', deliveryId)
    .execute();
}

const attemptsOf = (deliveryId: string) => server.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', deliveryId).execute();

describe('a delivery attempt', () => {
  it('holds no transaction and no row lock while it waits for the receiver, only its lease', async () => {
    const { target, deliveryId } = await pendingDelivery((n) => (n === 1 ? 'hang' : { status: 200 }));
    const run = runDelivery(scope(), deliveryId);
    await target.waitFor(1);

    const open = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' OR xact_start IS NOT NULL)`.execute(server.db);
    expect(Number(open.rows[0]?.n)).toBe(0);
    // The row is free: a lock that must not wait gets it.
    await server.db.transaction().execute(async (trx) => {
      await sql`SELECT id FROM webhook_deliveries WHERE id = ${deliveryId} FOR UPDATE NOWAIT`.execute(trx);
    });
    const during = await deliveryRow(server, deliveryId);
    expect(during.claimed_by).toMatch(/^run:/);
    expect(during.claimed_until?.getTime()).toBeGreaterThan(Date.now());

    target.release(200);
    expect(await run).toBe('delivered');
    expect(await deliveryRow(server, deliveryId)).toMatchObject({ status: 'DELIVERED', attempt_count: 1, claimed_by: null, claimed_until: null });
  });

  it("makes none while another run's lease on the delivery lasts (two workers never attempt it at once)", async () => {
    const { target, deliveryId } = await pendingDelivery();
    await lease(deliveryId, 'job:other', 60);
    expect(await runDelivery(scope(), deliveryId, 'job:mine')).toBe('nothing-to-do');
    expect(target.received).toEqual([]);
    expect(await deliveryRow(server, deliveryId)).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: 'job:other' });
    expect(await attemptsOf(deliveryId)).toEqual([]);
  });

  it('takes over a lease that has ended (its run died), and the same job takes its own lease back at once', async () => {
    const ended = await pendingDelivery();
    await lease(ended.deliveryId, 'job:dead', -1);
    expect(await runDelivery(scope(), ended.deliveryId, 'job:next')).toBe('delivered');
    expect(ended.target.received).toHaveLength(1);

    // graphile-worker's retry, or src/jobs/recovery.ts after the process died: the job runs again under its own name.
    const own = await pendingDelivery();
    await lease(own.deliveryId, 'job:42', 60);
    expect(await runDelivery(scope(), own.deliveryId, 'job:42')).toBe('delivered');
    expect(await deliveryRow(server, own.deliveryId)).toMatchObject({ status: 'DELIVERED', attempt_count: 1, claimed_by: null });
  });

  it('records nothing when its lease was taken over during the HTTP call: the other run owns the delivery', async () => {
    const { target, deliveryId } = await pendingDelivery((n) => (n === 1 ? 'hang' : { status: 200 }));
    const run = runDelivery(scope(), deliveryId, 'job:slow');
    await target.waitFor(1);
    await lease(deliveryId, 'job:other', 60);
    target.release(200);
    expect(await run).toBe('lease-lost');
    expect(await deliveryRow(server, deliveryId)).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: 'job:other' });
    expect(await attemptsOf(deliveryId)).toEqual([]);
  });

  it('refuses to run inside a unit of work, which would hold a transaction over the HTTP call', async () => {
    const { deliveryId } = await pendingDelivery();
    await expect(unitOfWork(scope(), (unit) => runDelivery(unit, deliveryId))).rejects.toThrow('outside a unit of work');
  });
});

describe('a job of several deliveries', () => {
  it('attempts those it may claim at once, records each outcome, and attempts none again when it runs again', async () => {
    const ok = await pendingDelivery();
    const failing = await pendingDelivery(() => ({ status: 500 }));
    const held = await pendingDelivery();
    await lease(held.deliveryId, 'job:other', 60);
    const ids = [ok.deliveryId, failing.deliveryId, held.deliveryId];

    const runs = await runDeliveries(scope(), ids, 'job:7');
    expect(Object.fromEntries(runs)).toEqual({ [ok.deliveryId]: 'delivered', [failing.deliveryId]: 'retrying', [held.deliveryId]: 'nothing-to-do' });
    expect(await deliveryRow(server, ok.deliveryId)).toMatchObject({ status: 'DELIVERED', attempt_count: 1, last_status_code: 200, claimed_by: null });
    expect(await attemptsOf(ok.deliveryId)).toMatchObject([{ number: 1, status_code: 200, error: null, next_attempt_at: null }]);
    const retry = await deliveryRow(server, failing.deliveryId);
    expect(retry).toMatchObject({ status: 'PENDING', attempt_count: 1, last_status_code: 500, claimed_by: null });
    expect(retry.next_attempt_at?.getTime()).toBeGreaterThan(Date.now());
    // The retry is a job of its own, keyed by the delivery, due when the delivery is.
    const keyed = await sql<{ run_at: Date }>`SELECT run_at FROM graphile_worker.jobs WHERE key = ${failing.deliveryId}`.execute(server.db);
    expect(keyed.rows.map((row) => row.run_at.getTime())).toEqual([retry.next_attempt_at?.getTime()]);
    expect(await deliveryRow(server, held.deliveryId)).toMatchObject({ status: 'PENDING', attempt_count: 0, claimed_by: 'job:other' });

    // Its re-run (graphile-worker's retry after a database error, or after the process died) finds nothing due.
    const again = await runDeliveries(scope(), ids, 'job:7');
    expect([...again.values()]).toEqual(['nothing-to-do', 'nothing-to-do', 'nothing-to-do']);
    expect([ok.target.received.length, failing.target.received.length, held.target.received.length]).toEqual([1, 1, 0]);
  });
});
