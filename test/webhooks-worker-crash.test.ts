/**
 * Webhook deliveries survive the death of the worker process. The API runs
 * without a worker (a test server); the worker is its own process (`npm run
 * worker`'s command). A real receiver on 127.0.0.1 holds the first request
 * open, the worker is killed with SIGKILL while it waits for the answer, and
 * a new worker process delivers the event: same webhook-id, signature
 * verified with `standardwebhooks`, one delivery, DELIVERED in its log. The
 * dead worker's job lock is released by the new worker at once
 * (src/jobs/recovery.ts), not after graphile-worker's 4 hours, and the job's
 * re-run takes back the delivery's lease that the dead run left.
 *
 * And two worker processes never attempt one delivery at once: with a
 * duplicate job for a delivery being attempted, the second worker makes no
 * attempt.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sql } from 'kysely';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createAccount, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startReceiver, verified, type Receiver } from './helpers/webhook-receiver.js';
import { register, sendTest } from './helpers/webhooks.js';
import { launchWorker, stopAll, until, type WorkerChild } from './helpers/worker-child.js';

jest.setTimeout(120_000);

let server: TestServer;
let jwks: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  jwks = await generateSigningJwks('EdDSA');
  server = await startTestServer({ env: { JWT_SIGNING_KEYS: jwks, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
});

afterEach(async () => {
  await stopAll();
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(async () => {
  await server.close();
});

/** A worker process over the test server's database, with the same signing keys (they open the endpoints' secrets). */
function worker(env: Record<string, string> = {}): Promise<WorkerChild> {
  return launchWorker({
    DATABASE_URL: server.config.databaseUrl ?? '',
    JWT_SIGNING_KEYS: jwks,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    // Longer than the test holds a request: the attempt must still be waiting when the worker dies.
    WEBHOOK_TIMEOUT_MS: '60000',
    WORKER_POLL_INTERVAL_MS: '200',
    WORKER_RECOVERY_INTERVAL_MS: '1000',
    ...env,
  });
}

/** A receiver that holds its first request open (until `release`) and answers the others 200. */
async function holdingReceiver(): Promise<Receiver> {
  const receiver = await startReceiver((n) => (n === 1 ? 'hang' : { status: 200 }));
  receivers.push(receiver);
  return receiver;
}

const CHECKOUT = 'mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }';
const DELIVERIES = `{ viewer { webhookEndpoints(first: 5) { edges { node { id deliveries(first: 10) { totalCount edges { node {
  webhookId eventType status attemptCount lastStatusCode lastError nextAttemptAt attempts { number statusCode error } } } } } } } } }`;

interface DeliveryNode {
  webhookId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  attempts: Array<{ number: number; statusCode: number | null; error: string | null }>;
}

/** The seller's delivery log, as the seller reads it through the API. */
async function deliveryLog(seller: Account): Promise<{ totalCount: number; nodes: DeliveryNode[] }> {
  const res = await server.graphql<{ viewer: { webhookEndpoints: { edges: Array<{ node: { deliveries: { totalCount: number; edges: Array<{ node: DeliveryNode }> } } }> } } }>(
    DELIVERIES,
    {},
    { headers: seller.headers },
  );
  const deliveries = res.body.data?.viewer.webhookEndpoints.edges[0]?.node.deliveries;
  if (!deliveries) throw new Error(`no delivery log: ${JSON.stringify(res.body)}`);
  return { totalCount: deliveries.totalCount, nodes: deliveries.edges.map((edge) => edge.node) };
}

interface DeliverJob {
  id: string;
  locked_by: string | null;
}

async function deliverJobs(): Promise<DeliverJob[]> {
  const result = await sql<DeliverJob>`
    SELECT id::text AS id, locked_by FROM graphile_worker.jobs WHERE task_identifier = 'webhooks.deliver' ORDER BY id`.execute(server.db);
  return result.rows;
}

describe('a worker process killed in the middle of a delivery', () => {
  it('leaves the event to the next worker, which delivers it with the same webhook-id: nothing lost, one delivery in the log', async () => {
    const receiver = await holdingReceiver();
    const seller = await createAccount(server, { role: 'SELLER' });
    const endpoint = await register(server, seller, receiver.url);
    const product = await seeder(server.db).product({ seller: seller.user, stock: 5 });
    const customer = await createAccount(server);
    const first = await worker();

    const res = await server.graphql<{ checkout: { orders: Array<{ id: string }> | null } }>(
      CHECKOUT,
      { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } },
      { headers: { ...customer.headers, 'idempotency-key': randomUUID() } },
    );
    const orderId = res.body.data?.checkout.orders?.[0]?.id;
    expect(orderId).toBeDefined();

    // The receiver has the request in hand and does not answer; the worker waits for it.
    await receiver.waitFor(1, 60_000);
    const [running] = await deliverJobs();
    expect(running?.locked_by).not.toBeNull();
    first.child.kill('SIGKILL');
    await first.exited;
    // The dead worker's attempt committed nothing but its lease (which names its job), and its job is still locked by it.
    expect((await deliveryLog(seller)).nodes).toMatchObject([{ status: 'PENDING', attemptCount: 0, attempts: [] }]);
    expect(await deliverJobs()).toEqual([running]);

    const second = await worker();
    await until('the delivery to arrive again', () => (receiver.received.length >= 2 ? true : undefined), second.output);
    const log = await until('the delivery log to say DELIVERED', async () => {
      const now = await deliveryLog(seller);
      return now.nodes[0]?.status === 'DELIVERED' ? now : undefined;
    }, second.output);
    expect(second.output()).toContain('released the jobs of worker processes that died');

    // Every request the receiver got is the same message, signed: at least once, one webhook-id.
    const webhookIds = new Set(receiver.received.map((message) => message.headers['webhook-id']));
    expect(webhookIds.size).toBe(1);
    for (const message of receiver.received) {
      expect(verified(endpoint.secret, message)).toMatchObject({ type: 'order.created', data: { order: { id: orderId } } });
    }
    // One delivery, delivered by the one attempt that committed; no job left behind.
    expect(log.totalCount).toBe(1);
    expect(log.nodes[0]).toEqual({
      webhookId: [...webhookIds][0],
      eventType: 'order.created',
      status: 'DELIVERED',
      attemptCount: 1,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
      attempts: [{ number: 1, statusCode: 200, error: null }],
    });
    await until('the queue to be empty', async () => ((await deliverJobs()).length === 0 ? true : undefined), second.output);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('two worker processes', () => {
  it('never attempt the same delivery at once: a duplicate job for a delivery being attempted makes no attempt', async () => {
    const receiver = await holdingReceiver();
    const seller = await createAccount(server, { role: 'SELLER' });
    const endpoint = await register(server, seller, receiver.url);
    // One job at a time each: while the first worker waits on the receiver, only the second can take a job.
    const [a, b] = [await worker({ WORKER_CONCURRENCY: '1' }), await worker({ WORKER_CONCURRENCY: '1' })];

    const deliveryId = await sendTest(server, seller, endpoint.id);
    await receiver.waitFor(1, 60_000);
    // A second job for the same delivery (as a replayed or released job would be), beside the running one.
    await sql`SELECT graphile_worker.add_job('webhooks.deliver', ${JSON.stringify({ deliveryId })}::json)`.execute(server.db);
    await until('the duplicate job to be done', async () => ((await deliverJobs()).length === 1 ? true : undefined), () => a.output() + b.output());
    // It ran in the other process and made no attempt: the receiver still has one request.
    expect(receiver.received).toHaveLength(1);
    const ran = (output: string) => output.includes('"task":"webhooks.deliver"') && output.includes('"msg":"job done"');
    expect([ran(a.output()), ran(b.output())].filter(Boolean)).toHaveLength(1);

    receiver.release(200);
    await until('the delivery to be DELIVERED', async () => ((await deliveryLog(seller)).nodes[0]?.status === 'DELIVERED' ? true : undefined));
    expect((await deliveryLog(seller)).nodes[0]).toMatchObject({ status: 'DELIVERED', attemptCount: 1, attempts: [{ number: 1, statusCode: 200 }] });
    expect(receiver.received).toHaveLength(1);
    const [message] = receiver.received;
    if (!message) throw new Error('no message');
    expect(verified(endpoint.secret, message)).toMatchObject({ type: 'webhook.test' });
  });
});
