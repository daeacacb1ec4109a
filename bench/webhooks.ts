/**
 * `npm run bench:webhooks`: what outbound webhooks cost a checkout, and how
 * fast they arrive, in one run (docs/operations/performance.md).
 *
 * One app (graphql-shield on) with the job worker in its process (WORKER=on,
 * the `npm start` placement), a receiver on 127.0.0.1 verifying every message
 * with `standardwebhooks`, and one customer buying two-seller carts, signed
 * in, a fresh Idempotency-Key per request, each checkout one unit of one of
 * 8 products of each of the cart's two sellers, in turn (so that checkouts in
 * flight seldom wait for each other's product rows; BENCH_WEBHOOK_HOT_ROWS=1:
 * always the same two products, the single-hot-product worst case):
 *
 *   1. throughput: cart A (two sellers each with an endpoint subscribed to
 *      `order.created`: two deliveries per checkout) against cart B (two
 *      sellers without endpoints), in alternating blocks (A B B A ...) of
 *      closed-loop load; after each A block the run waits until its
 *      deliveries have arrived. Ratio A / B, expected at least 0.8;
 *   2. commit-to-receipt: sequential A checkouts; from the client's reading of
 *      the response (the commit came before it) to the receiver's reading of
 *      each message; p50 and p99;
 *   3. deliveries per second: the worker stopped, A checkouts queue their
 *      deliveries, a new worker starts and drains them; deliveries / time
 *      from its start to the last message.
 *
 * And the CPU each costs: the bench's process (app, worker and client:
 * `process.cpuUsage`), the embedded PostgreSQL's processes (read from /proc,
 * bench/lib/process-cpu.ts; not on DATABASE_URL) and the receiver's, per
 * checkout of each cart over its blocks (an A block with the wait for its
 * deliveries), and per delivery over the drain.
 *
 * The receiver runs in a child process of its own: it stands for the
 * subscribers' servers, whose HTTP parsing and verification are not the
 * API's work (on two cores it still competes for the same CPU).
 * BENCH_WEBHOOK_RECEIVER=in-process runs it in the bench's process, on the
 * API's event loop (its CPU then counts in the Node figure).
 *
 * BENCH_WEBHOOK_PROFILE=<directory>: a V8 CPU profile of the bench's process
 * during each throughput block of cart A, with the wait for its deliveries,
 * and one of each B block (`A-<round>-<n>.cpuprofile`, `B-...`), to open in
 * Chrome's DevTools or to add up.
 *
 * Knobs: BENCH_WEBHOOK_ROUNDS (4 rounds of A B B A), BENCH_WEBHOOK_BLOCK_MS
 * (3000), BENCH_WEBHOOK_CONNECTIONS (4 in flight), BENCH_WEBHOOK_LATENCY
 * (200 sequential checkouts), BENCH_WEBHOOK_BACKLOG (300 checkouts = 600
 * deliveries), WORKER_CONCURRENCY (4), DATABASE_POOL_MAX (10),
 * WEBHOOK_DISPATCH_INTERVAL_MS (50).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

import { sql } from 'kysely';
import { pino } from 'pino';

import { buildApp } from '../src/app.js';
import { createAuthRuntime } from '../src/auth/runtime.js';
import { loadConfig } from '../src/config/config.js';
import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { startWorker, type JobWorker } from '../src/jobs/worker.js';
import { newSigningSecret, sealSecret } from '../src/modules/webhooks/signing.js';
import { startBenchDatabase } from './lib/database.js';
import { GraphQLClient, graphqlBody } from './lib/http.js';
import { processCpuMs, processTreeCpuMs } from './lib/process-cpu.js';
import { seedCatalog } from './lib/seed.js';
import { percentile, round } from './lib/stats.js';
import { startBenchReceiver, startBenchReceiverProcess } from './lib/webhook-receiver.js';

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const ROUNDS = envInt('BENCH_WEBHOOK_ROUNDS', 4);
const BLOCK_MS = envInt('BENCH_WEBHOOK_BLOCK_MS', 3000);
const CONNECTIONS = envInt('BENCH_WEBHOOK_CONNECTIONS', 4);
const LATENCY_CHECKOUTS = envInt('BENCH_WEBHOOK_LATENCY', 200);
const BACKLOG_CHECKOUTS = envInt('BENCH_WEBHOOK_BACKLOG', 300);
const CART_PRODUCTS = process.env['BENCH_WEBHOOK_HOT_ROWS'] === '1' ? 1 : 8;
/** BENCH_WEBHOOK_DEFERRED=1: no worker during the throughput blocks (the deliveries wait): what the enqueueing alone costs. */
const DEFERRED = process.env['BENCH_WEBHOOK_DEFERRED'] === '1';
/** The receiver in a child process (the default), out of the bench's process and its CPU figures; BENCH_WEBHOOK_RECEIVER=in-process: in it. */
const RECEIVER_PROCESS = process.env['BENCH_WEBHOOK_RECEIVER'] !== 'in-process';
/** BENCH_WEBHOOK_PROFILE=<directory>: CPU profiles of the throughput blocks. */
const PROFILE_DIR = process.env['BENCH_WEBHOOK_PROFILE'];
const RESULTS_FILE = fileURLToPath(new URL('./results/webhooks.json', import.meta.url));

const LOG_IN = 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }';
const CHECKOUT = 'mutation Checkout($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }';

const progress = (message: string) => process.stderr.write(`[bench:webhooks] ${message}\n`);

interface Checkout {
  /** When the client had read the response (`performance.now()`). */
  at: number;
  orderIds: string[];
}

async function main(): Promise<void> {
  const steps: Array<() => Promise<unknown>> = [];
  const loadavgAtStart = os.loadavg().map((n) => round(n, 2));
  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-bench-webhooks-'));
  steps.push(() => rm(tempDir, { recursive: true, force: true }));
  try {
    progress(process.env['DATABASE_URL'] ? 'creating a scratch database on DATABASE_URL' : 'starting embedded PostgreSQL');
    const database = await startBenchDatabase();
    steps.push(() => database.stop());
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      JWT_KEY_FILE: path.join(tempDir, 'jwt', 'signing-keys.json'),
      GRAPHQL_SANDBOX: 'false',
      GRAPHQL_INTROSPECTION: 'false',
      RATE_LIMIT_BUDGET: '1000000000',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      // Passed through when set, to see what they change.
      ...Object.fromEntries(['WORKER_CONCURRENCY', 'DATABASE_POOL_MAX', 'WEBHOOK_DISPATCH_INTERVAL_MS'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
    });
    const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 120_000 }, () => undefined);
    steps.push(() => db.destroy());
    await migrateToLatest(db);
    const seed = await seedCatalog(db, { products: 200, categories: 5, sellers: 20, customers: 10, maxReviewsPerProduct: 0 });
    const { rows: versionRows } = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);

    // Four sellers with CART_PRODUCTS ACTIVE products each: cart A's two sellers get endpoints, cart B's none.
    // Checkout n buys product n mod CART_PRODUCTS of each of its two sellers (one product of each with BENCH_WEBHOOK_HOT_ROWS=1).
    const products = await db.selectFrom('products').select(['id', 'seller_id']).where('status', '=', 'ACTIVE').where('deleted_at', 'is', null).where('currency', '=', 'EUR').orderBy('id').execute();
    const bySeller = new Map<string, string[]>();
    for (const product of products) bySeller.set(product.seller_id, [...(bySeller.get(product.seller_id) ?? []), product.id]);
    const sellers = [...bySeller.entries()].filter(([, ids]) => ids.length >= CART_PRODUCTS).slice(0, 4);
    if (sellers.length < 4) throw new Error(`the bench catalogue has no four sellers with ${CART_PRODUCTS} ACTIVE products`);
    const shelf = sellers.map(([sellerId, ids]) => ({ sellerId, ids: ids.slice(0, CART_PRODUCTS) }));
    await db.updateTable('products').set({ stock: 10_000_000 }).where('id', 'in', shelf.flatMap((s) => s.ids)).execute();
    const auth = await createAuthRuntime(config);
    steps.push(() => auth.close());
    const receiver = RECEIVER_PROCESS ? await startBenchReceiverProcess() : await startBenchReceiver();
    steps.push(() => receiver.close());
    for (const { sellerId } of shelf.slice(0, 2)) {
      const id = randomUUID();
      const secret = newSigningSecret();
      receiver.trust(id, secret);
      await db
        .insertInto('webhook_endpoints')
        .values({ id, owner_id: sellerId, url: receiver.urlFor(id), events: ['order.created'], secret_sealed: sealSecret(auth.keys, id, secret) })
        .execute();
    }

    const appDb = createDb({ url: database.url, poolMax: config.databasePoolMax, statementTimeoutMs: config.databaseStatementTimeoutMs }, () => undefined);
    steps.push(() => appDb.destroy());
    const silent = pino({ level: 'silent' });
    const app = await buildApp({ config, db: appDb, logger: silent, auth });
    steps.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address !== 'object') throw new Error('the app has no TCP address');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    steps.push(async () => agent.destroy());
    const client = new GraphQLClient(`http://127.0.0.1:${address.port}`, agent);
    const workerOptions = { deps: app.scopeDeps, log: silent, connectionString: database.url, config: config.worker, schedules: [] };
    let worker: JobWorker | undefined = await startWorker(workerOptions);
    steps.push(() => worker?.stop() ?? Promise.resolve());

    const login = JSON.parse((await client.post(graphqlBody(LOG_IN, { input: { ...seed.account, refreshTokenDelivery: 'PAYLOAD' } }), randomUUID())).text) as {
      data?: { logIn?: { accessToken?: string } };
    };
    const token = login.data?.logIn?.accessToken;
    if (!token) throw new Error('logIn returned no access token');
    const cart = (ids: string[]) => graphqlBody(CHECKOUT, { input: { items: ids.map((id) => ({ productId: toGlobalId('Product', id), quantity: 1 })) } }, 'Checkout');
    const shelves = { A: [shelf[0], shelf[1]], B: [shelf[2], shelf[3]] };
    const carts = {
      A: Array.from({ length: CART_PRODUCTS }, (_, n) => cart(shelves.A.map((s) => s?.ids[n] ?? ''))),
      B: Array.from({ length: CART_PRODUCTS }, (_, n) => cart(shelves.B.map((s) => s?.ids[n] ?? ''))),
    };
    const turn = { A: 0, B: 0 };
    const endpointIds = [...(await db.selectFrom('webhook_endpoints').select('id').execute()).map((row) => row.id)];

    const buy = async (which: 'A' | 'B'): Promise<Checkout> => {
      const request = carts[which][turn[which]++ % CART_PRODUCTS];
      if (!request) throw new Error('no cart');
      const res = await client.post(request, randomUUID(), { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() });
      const at = performance.now();
      const body = JSON.parse(res.text) as { data?: { checkout?: { orders: Array<{ id: string }> | null; userErrors: unknown[] } } };
      const orders = body.data?.checkout?.orders;
      if (res.status !== 200 || !orders || orders.length !== 2) throw new Error(`checkout failed: ${res.status} ${res.text.slice(0, 300)}`);
      return { at, orderIds: orders.map((order) => order.id) };
    };
    /** Closed loop: `CONNECTIONS` callers buying `which` back to back for `BLOCK_MS`. */
    const block = async (which: 'A' | 'B') => {
      const started = performance.now();
      const deadline = started + BLOCK_MS;
      let done = 0;
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (performance.now() < deadline) {
            await buy(which);
            done += 1;
          }
        }),
      );
      return { checkouts: done, seconds: (performance.now() - started) / 1000 };
    };
    let expected = 0;

    progress('warming up (20 checkouts of each cart)');
    for (let i = 0; i < 20; i += 1) {
      await buy('A');
      await buy('B');
      expected += 2;
    }
    await receiver.waitFor(expected, 30_000);

    progress(`1. throughput: ${ROUNDS} rounds of A B B A, ${BLOCK_MS} ms blocks, ${CONNECTIONS} in flight${DEFERRED ? ', the worker stopped' : ''}`);
    if (DEFERRED) {
      await worker.stop();
      worker = undefined;
    }
    const totals = {
      A: { checkouts: 0, seconds: 0, nodeCpuMs: 0, postgresCpuMs: 0, receiverCpuMs: 0 },
      B: { checkouts: 0, seconds: 0, nodeCpuMs: 0, postgresCpuMs: 0, receiverCpuMs: 0 },
    };
    // CPU of the bench's process (app, worker, receiver and client) and of the embedded server's processes (null on DATABASE_URL).
    const postgresCpu = () => (database.processMarker === undefined ? null : processTreeCpuMs(database.processMarker));
    // The receiver's process (null in-process: its CPU is in the Node figure).
    const receiverCpu = () => (receiver.pid === undefined ? null : processCpuMs(receiver.pid));
    let drainMs = 0;
    const profiler = PROFILE_DIR === undefined ? undefined : new Session();
    if (profiler && PROFILE_DIR) {
      await mkdir(PROFILE_DIR, { recursive: true });
      profiler.connect();
      await profiler.post('Profiler.enable');
    }
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const [n, which] of (['A', 'B', 'B', 'A'] as const).entries()) {
        if (profiler) await profiler.post('Profiler.start');
        const cpuBefore = { node: process.cpuUsage(), postgres: postgresCpu(), receiver: receiverCpu() };
        const result = await block(which);
        totals[which].checkouts += result.checkouts;
        totals[which].seconds += result.seconds;
        if (which === 'A' && !DEFERRED) {
          expected += result.checkouts * 2;
          const before = performance.now();
          await receiver.waitFor(expected, 60_000);
          drainMs = Math.max(drainMs, performance.now() - before);
        }
        // The block's CPU, with an A block's wait for its deliveries: what its checkouts cost in all.
        const node = process.cpuUsage(cpuBefore.node);
        const postgresAfter = postgresCpu();
        const receiverAfter = receiverCpu();
        totals[which].nodeCpuMs += (node.user + node.system) / 1000;
        totals[which].receiverCpuMs += cpuBefore.receiver === null || receiverAfter === null ? Number.NaN : receiverAfter - cpuBefore.receiver;
        totals[which].postgresCpuMs += cpuBefore.postgres === null || postgresAfter === null ? Number.NaN : postgresAfter - cpuBefore.postgres;
        if (profiler && PROFILE_DIR) {
          const { profile } = await profiler.post('Profiler.stop');
          await writeFile(path.join(PROFILE_DIR, `${which}-${r}-${n}.cpuprofile`), JSON.stringify(profile));
        }
      }
    }
    profiler?.disconnect();
    const cpuPerCheckout = (which: 'A' | 'B') => ({
      node: round(totals[which].nodeCpuMs / totals[which].checkouts, 2),
      postgres: Number.isNaN(totals[which].postgresCpuMs) ? null : round(totals[which].postgresCpuMs / totals[which].checkouts, 2),
      receiver: Number.isNaN(totals[which].receiverCpuMs) ? null : round(totals[which].receiverCpuMs / totals[which].checkouts, 2),
    });
    const perSecond = (which: 'A' | 'B') => totals[which].checkouts / totals[which].seconds;

    if (DEFERRED) {
      expected += totals.A.checkouts * 2;
      worker = await startWorker(workerOptions);
      await receiver.waitFor(expected, 300_000);
    }

    progress(`2. commit-to-receipt: ${LATENCY_CHECKOUTS} sequential checkouts of cart A`);
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_CHECKOUTS; i += 1) {
      const bought = await buy('A');
      expected += 2;
      await receiver.waitFor(expected, 30_000);
      for (const orderId of bought.orderIds) {
        for (const endpointId of endpointIds) {
          const arrived = receiver.arrivals.get(`${orderId} ${endpointId}`);
          if (arrived !== undefined) latencies.push(arrived - bought.at);
        }
      }
    }
    latencies.sort((a, b) => a - b);

    progress(`3. deliveries per second: ${BACKLOG_CHECKOUTS} checkouts queued with the worker stopped, then drained`);
    await worker?.stop();
    worker = undefined;
    for (let i = 0; i < BACKLOG_CHECKOUTS; i += CONNECTIONS) {
      await Promise.all(Array.from({ length: Math.min(CONNECTIONS, BACKLOG_CHECKOUTS - i) }, () => buy('A')));
    }
    const backlog = BACKLOG_CHECKOUTS * 2;
    const drainCpuBefore = { node: process.cpuUsage(), postgres: postgresCpu(), receiver: receiverCpu() };
    const drainStart = performance.now();
    worker = await startWorker(workerOptions);
    await receiver.waitFor(expected + backlog, 300_000);
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const drainNode = process.cpuUsage(drainCpuBefore.node);
    const drainPostgres = postgresCpu();
    const drainReceiver = receiverCpu();
    const cpuPerDelivery = {
      receiver: drainReceiver === null || drainCpuBefore.receiver === null ? null : round((drainReceiver - drainCpuBefore.receiver) / backlog, 2),
      node: round((drainNode.user + drainNode.system) / 1000 / backlog, 2),
      postgres: drainPostgres === null || drainCpuBefore.postgres === null ? null : round((drainPostgres - drainCpuBefore.postgres) / backlog, 2),
    };
    expected += backlog;

    const failed = await db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '!=', 'DELIVERED').executeTakeFirstOrThrow();
    const results = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavgAtStart, loadavg: os.loadavg().map((n) => round(n, 2)), node: process.version, postgres: versionRows[0]?.v, database: database.detail },
      settings: { workerDuringThroughput: !DEFERRED, receiver: RECEIVER_PROCESS ? 'child process' : 'in-process', productsPerSeller: CART_PRODUCTS, poolMax: config.databasePoolMax, rounds: ROUNDS, blockMs: BLOCK_MS, connections: CONNECTIONS, workerConcurrency: config.worker.concurrency, dispatchIntervalMs: config.webhooks.dispatchIntervalMs, latencyCheckouts: LATENCY_CHECKOUTS, backlogCheckouts: BACKLOG_CHECKOUTS },
      throughput: {
        withEndpoints: { checkouts: totals.A.checkouts, perSecond: round(perSecond('A'), 1) },
        without: { checkouts: totals.B.checkouts, perSecond: round(perSecond('B'), 1) },
        ratio: round(perSecond('A') / perSecond('B'), 3),
        longestWaitForDeliveriesAfterABlockMs: Math.round(drainMs),
        cpuMsPerCheckout: { withEndpoints: cpuPerCheckout('A'), without: cpuPerCheckout('B') },
      },
      commitToReceiptMs: { samples: latencies.length, p50: round(percentile(latencies, 50), 1), p99: round(percentile(latencies, 99), 1), max: round(latencies.at(-1) ?? 0, 1) },
      deliveriesPerSecond: { deliveries: backlog, seconds: round(drainSeconds, 2), perSecond: round(backlog / drainSeconds, 1), cpuMsPerDelivery: cpuPerDelivery },
      receiver: { verified: receiver.count, rejected: receiver.rejected, duplicateWebhookIds: receiver.duplicates, deliveriesNotDelivered: Number(failed.n) },
    };
    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log(JSON.stringify(results, null, 2));
    if (results.throughput.ratio < 0.8) console.log(`WARNING: checkout throughput with two endpoints / without is ${results.throughput.ratio} (< 0.8)`);
    if (receiver.rejected > 0) console.log(`WARNING: ${receiver.rejected} messages did not verify`);
  } finally {
    for (const step of steps.reverse()) await step().catch((error: unknown) => progress(`teardown step failed: ${String(error)}`));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
