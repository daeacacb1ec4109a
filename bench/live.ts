/**
 * `npm run bench:live`: live updates on one production server. Opens
 * BENCH_LIVE_SUBSCRIBERS (1,000) WebSockets, each with one `productUpdated`
 * subscription to the same product, and measures:
 * - the server's resident memory per connection (RSS from /metrics, before
 *   and after the connections, divided by their number);
 * - delivery latency of one change fanned out to all of them, from the
 *   moment the change is announced (the NOTIFY a commit sends) to each
 *   subscriber's receipt, p50/p99 over BENCH_LIVE_EVENTS (20) changes;
 * - the catalog query's throughput with the subscribers connected and
 *   without them, in the same run (rounds before, with, after).
 * Client and server share the machine: the latencies include the bench's
 * own work of receiving 1,000 events.
 */
import os from 'node:os';

import { createClient, type Client } from 'graphql-ws';
import { sql } from 'kysely';
import WebSocket from 'ws';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { CHANNEL } from '../src/subscriptions/channel.js';
import { startBenchDatabase } from './lib/database.js';
import { closedLoop } from './lib/load.js';
import { ensureProductionBuild, startProductionServer } from './lib/production-server.js';
import { CACHE_CATALOG } from './lib/response-cache.js';
import { seedCatalog } from './lib/seed.js';
import { percentile } from './lib/stats.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const subscribers = envInt('BENCH_LIVE_SUBSCRIBERS', 1_000);
const events = envInt('BENCH_LIVE_EVENTS', 20);
const roundMs = envInt('BENCH_LIVE_ROUND_SECONDS', 5) * 1000;
const METRICS_TOKEN = 'bench-live-metrics';
const progress = (message: string) => process.stderr.write(`bench:live: ${message}\n`);

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

await ensureProductionBuild();
const database = await startBenchDatabase();
const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 300_000 }, () => undefined);
try {
  await migrateToLatest(db);
  await seedCatalog(db, { products: 2_000, categories: 10, sellers: 20, customers: 50, maxReviewsPerProduct: 3 });
  const product = await db.selectFrom('products').select(['id', 'stock']).where('status', '=', 'ACTIVE').where('deleted_at', 'is', null).executeTakeFirstOrThrow();
  const server = await startProductionServer(database.url, {
    JWT_SIGNING_KEYS: await generateSigningJwks(),
    RATE_LIMIT_BUDGET: '1000000000',
    RESPONSE_CACHE: 'off',
    METRICS_TOKEN,
    SUBSCRIPTIONS_MAX_CONNECTIONS_PER_IP: String(subscribers + 10),
  });
  const rss = async () => {
    const text = await (await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  const catalog = () =>
    closedLoop({
      baseUrl: server.baseUrl,
      connections: 16,
      durationMs: roundMs,
      request: {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ query: CACHE_CATALOG, variables: { first: 50 } })),
      },
    });
  try {
    progress('warm-up round');
    await catalog();
    const before = await catalog();
    const rssBefore = await rss();

    progress(`opening ${subscribers} WebSockets`);
    const received: number[] = new Array<number>(subscribers).fill(0);
    const arrivals: number[][] = Array.from({ length: subscribers }, () => []);
    const clients: Client[] = [];
    for (let i = 0; i < subscribers; i += 1) {
      const client = createClient({ url: `${server.baseUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
      clients.push(client);
      client.subscribe(
        { query: 'subscription ($id: ID!) { productUpdated(id: $id) { id stock } }', variables: { id: toGlobalId('Product', product.id) } },
        { next: () => ((received[i] = (received[i] ?? 0) + 1), arrivals[i]?.push(performance.now())), error: () => undefined, complete: () => undefined },
      );
    }
    const announce = () => sql`SELECT pg_notify(${CHANNEL}, ${JSON.stringify([{ entity: 'product', id: product.id }])})`.execute(db);
    // Subscribed once a change reaches all of them; then one more, after which every count is settled.
    while (!received.every((count) => count >= 1)) {
      await announce();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const settling = [...received];
    await announce();
    await until(() => received.every((count, i) => count > (settling[i] ?? 0)), 'every subscriber to settle');
    const base = [...received];
    const rssWith = await rss();

    const latencies: number[] = [];
    for (let event = 0; event < events; event += 1) {
      await db.updateTable('products').set({ stock: product.stock + event + 1 }).where('id', '=', product.id).execute();
      const sentAt = performance.now();
      await announce();
      await until(() => received.every((count, i) => count >= (base[i] ?? 0) + event + 1), `event ${event}`);
      arrivals.forEach((times, i) => latencies.push((times[(base[i] ?? 0) + event] ?? sentAt) - sentAt));
    }
    progress('catalog round with the subscribers connected');
    const withSubscribers = await catalog();
    await Promise.all(clients.map(async (client) => {
      await client.dispose();
    }));
    const after = await catalog();
    latencies.sort((a, b) => a - b);
    const perConnectionKb = (rssWith - rssBefore) / subscribers / 1024;
    const line = (name: string, r: typeof before) => `${name.padEnd(28)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(6)} ms  errors ${r.errors}`;
    process.stdout.write(
      [
        `live updates: ${subscribers} WebSocket subscribers on one production server, Node ${process.version}, ${os.cpus().length} CPUs (bench and server share them)`,
        `memory: RSS ${(rssBefore / 1048576).toFixed(0)} MB before, ${(rssWith / 1048576).toFixed(0)} MB with the subscribers: ${perConnectionKb.toFixed(1)} KB per connection`,
        `delivery of one change to all ${subscribers} (${events} changes, from NOTIFY to receipt): p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`,
        line('catalog, none connected', before),
        line(`catalog, ${subscribers} connected`, withSubscribers),
        line('catalog, none again', after),
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop();
  }
} finally {
  await db.destroy();
  await database.stop();
}
