/**
 * The outage drill: 16 clients send keyed checkouts and catalogue reads
 * without pause while the test's own PostgreSQL is restarted twice (fast
 * shutdown) and stopped immediately once (as in a crash). What clients are
 * told must be the truth: no 500, no 200 whose data is missing without a user
 * error, and every key whose answer was a failure runs or replays when it is
 * retried 3 s after recovery (no 409 from a claim left behind). And nothing
 * is executed twice: the orders in the database are exactly those answered.
 *
 * It has a PostgreSQL of its own (embedded, in a temp folder) whichever
 * server the rest of the suite uses, because it stops and starts it.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { pino } from 'pino';

import { buildApp } from '../src/app.js';
import { hashPassword } from '../src/auth/passwords.js';
import { loadConfig } from '../src/config/config.js';
import { createDb } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { findFreePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { idOfType } from '../src/graphql/global-id.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { TEST_PASSWORD } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';

const CLIENTS = 16;
const log = pino({ level: 'silent' });

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }`;
const CATALOG = `query Catalog { products(first: 5) { totalCount nodes { id title seller { displayName } } } }`;
const LOG_IN = `mutation ($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { code } } }`;

let dataDir: string;
let port: number;
let postgres: EmbeddedDatabase;
let adminDb: Kysely<Database>;
let appDb: Kysely<Database>;
let app: FastifyInstance;
let baseUrl: string;
let products: ProductRow[];
const customers: Array<{ id: string; headers: Record<string, string> }> = [];

function startPostgres(): Promise<EmbeddedDatabase> {
  return startEmbeddedPostgres({ dir: path.join(dataDir, 'data'), port, database: 'drill', persistent: true, log });
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> } | undefined;
}

async function post(body: object, headers: Record<string, string>): Promise<Answer | { network: string }> {
  try {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Answer['body'];
    try {
      parsed = JSON.parse(text) as Answer['body'];
    } catch {
      parsed = undefined;
    }
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: parsed };
  } catch (error) {
    return { network: String(error) };
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-drill-'));
  // As root the cluster runs as the `postgres` user, which must reach its folder.
  await chmod(dataDir, 0o755);
  port = await findFreePort();
  postgres = await startPostgres();
  adminDb = createDb({ url: postgres.url, poolMax: 2, statementTimeoutMs: 30_000 });
  await migrateToLatest(adminDb);

  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: postgres.url,
    LOGIN_LIMIT_PER_IP: '100000',
    RATE_LIMIT_BUDGET: '100000000',
    QUERY_MAX_COST: '10000',
  });
  appDb = createDb({
    url: postgres.url,
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
  });
  app = await buildApp({ config, db: appDb, logger: log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  baseUrl = `http://127.0.0.1:${address.port}`;

  const seed = seeder(adminDb);
  const seller = await seed.user({ role: 'SELLER' });
  products = [];
  for (let i = 0; i < 8; i += 1) products.push(await seed.product({ seller, price: 100 + i, stock: 1_000_000 }));
  const hash = await hashPassword(TEST_PASSWORD);
  for (let i = 0; i < CLIENTS; i += 1) {
    const user = await seed.user({ role: 'CUSTOMER' });
    await adminDb.updateTable('users').set({ password_hash: hash }).where('id', '=', user.id).execute();
    const res = await post({ query: LOG_IN, variables: { input: { email: user.email, password: TEST_PASSWORD, refreshTokenDelivery: 'PAYLOAD' } } }, {});
    const token = 'body' in res ? (res.body?.data?.['logIn'] as { accessToken?: string } | undefined)?.accessToken : undefined;
    if (!token) throw new Error(`logIn failed: ${JSON.stringify(res)}`);
    customers.push({ id: user.id, headers: { authorization: `Bearer ${token}` } });
  }
}, 120_000);

afterAll(async () => {
  await app?.close();
  await appDb?.destroy();
  await adminDb?.destroy();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('keyed checkouts and reads through database restarts and a crash', () => {
  it('never answers 500 or a 200 without data, and every failed key runs or replays 3 s after recovery', async () => {
    const problems: string[] = [];
    /** Keys answered with a failure (503, 409) during the drill, to retry after recovery. */
    const unresolved: Array<{ client: number; key: string; body: object }> = [];
    /** Order ids clients were told about. */
    const told = new Set<string>();
    const counts = { checkouts: 0, reads: 0, ok: 0, unavailable: 0, inProgress: 0 };
    let running = true;

    const judgeCheckout = (answer: Answer, where: string): 'final' | 'retry' => {
      if (answer.status >= 500 && answer.status !== 503) problems.push(`${where}: status ${answer.status} ${JSON.stringify(answer.body)}`);
      if (answer.status === 503 || answer.status === 409) {
        if (!answer.retryAfter) problems.push(`${where}: ${answer.status} without Retry-After`);
        return 'retry';
      }
      const payload = answer.body?.data?.['checkout'] as { orders: Array<{ id: string }> | null; userErrors: unknown[] } | null | undefined;
      if (answer.status === 200) {
        if (!payload || (payload.orders === null && payload.userErrors.length === 0)) problems.push(`${where}: 200 without data or user error: ${JSON.stringify(answer.body)}`);
        for (const order of payload?.orders ?? []) told.add(order.id);
        return 'final';
      }
      problems.push(`${where}: unexpected ${answer.status} ${JSON.stringify(answer.body)}`);
      return 'final';
    };

    const client = async (index: number) => {
      const customer = customers[index] as (typeof customers)[number];
      let i = 0;
      while (running) {
        i += 1;
        if (i % 3 === 0) {
          counts.reads += 1;
          const answer = await post({ query: CATALOG }, {});
          if ('network' in answer) problems.push(`read: ${answer.network}`);
          else if (answer.status === 500 || (answer.status === 200 && !answer.body?.data)) problems.push(`read: ${answer.status} ${JSON.stringify(answer.body)}`);
          continue;
        }
        counts.checkouts += 1;
        const key = randomUUID();
        const product = products[(index + i) % products.length] as ProductRow;
        const body = { query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } } };
        const answer = await post(body, { ...customer.headers, 'idempotency-key': key });
        if ('network' in answer) {
          problems.push(`checkout: ${answer.network}`);
          continue;
        }
        if (answer.status === 503) counts.unavailable += 1;
        if (answer.status === 409) counts.inProgress += 1;
        if (judgeCheckout(answer, 'checkout') === 'retry') unresolved.push({ client: index, key, body });
        else counts.ok += 1;
      }
    };

    const load = Array.from({ length: CLIENTS }, (_, index) => client(index));
    await sleep(1_500);
    for (const mode of ['fast', 'fast', 'immediate'] as const) {
      await postgres.stop(mode);
      await sleep(500);
      postgres = await startPostgres();
      await sleep(2_000);
    }
    running = false;
    await Promise.all(load);

    // Recovered: ready again; then 3 s for claims of failed requests to be freed.
    let ready = false;
    for (let attempt = 0; attempt < 600 && !ready; attempt += 1) {
      ready = (await fetch(`${baseUrl}/health/ready`)).status === 200;
      if (!ready) await sleep(100);
    }
    expect(ready).toBe(true);
    await sleep(3_000);
    const retried: Record<string, number> = {};
    // Each client retries its own keys, the clients side by side. A key left claimed would answer 409:
    // never accepted. A 503 now says the server is busy (a loaded machine: no pool connection in time),
    // not that the key is stuck; the client follows Retry-After, as a real one does, a few times.
    await Promise.all(
      customers.map(async (customer, index) => {
        for (const { key, body } of unresolved.filter((entry) => entry.client === index)) {
          for (let attempt = 1; ; attempt += 1) {
            const answer = await post(body, { ...customer.headers, 'idempotency-key': key });
            if ('network' in answer) {
              problems.push(`retry: ${answer.network}`);
              break;
            }
            retried[answer.status] = (retried[answer.status] ?? 0) + 1;
            if (answer.status === 503 && attempt < 5) {
              await sleep(Number(answer.retryAfter ?? '1') * 1000);
              continue;
            }
            if (judgeCheckout(answer, 'retry 3 s after recovery') === 'retry') problems.push(`retry 3 s after recovery: ${answer.status} ${JSON.stringify(answer.body)}`);
            break;
          }
        }
      }),
    );

    // Nothing ran twice, nothing ran untold: the orders of the drill's customers are the ones answered.
    const orders = await adminDb
      .selectFrom('orders')
      .select('id')
      .where(
        'customer_id',
        'in',
        customers.map((c) => c.id),
      )
      .execute();
    const stored = new Set(orders.map((o) => o.id));

    expect({ problems, storedOrders: stored.size }).toEqual({ problems: [], storedOrders: told.size });
    for (const id of told) expect(stored.has(idOfType(id, 'Order'))).toBe(true);
    // The drill did meet the outage, and served around it (how much depends on the machine: no figure is asserted).
    expect(counts.unavailable).toBeGreaterThan(0);
    expect(counts.ok).toBeGreaterThan(0);
    // Every failed key was retried; none was ever answered 409 (a claim left behind).
    expect(unresolved.length).toBeLessThanOrEqual(Object.values(retried).reduce((a, b) => a + b, 0));
    expect(retried['409']).toBeUndefined();
  }, 600_000);
});
