/**
 * `Product.soldCount` moved from a count over the orders to the column
 * `products.sold_count`, phase by phase (src/transitions/,
 * docs/operations/migrations.md), on one database, over HTTP, with the
 * running server following each phase at run time (TRANSITION_REFRESH_MS
 * 100, seen through /metrics):
 *
 *   before      the template clone is taken back to before the change (its
 *               orders written first, so every product has sales to count;
 *               `schema_transitions` gone too, as the server must cope with);
 *   expanded    the expand migration runs under the running server; the
 *               contract migration waits while products are not counted
 *               (and, run anyway, refuses and changes nothing);
 *   backfill    in batches of 2 by a worker process that is killed (SIGKILL)
 *               part-way and replaced: every product counted exactly once;
 *   dual-write  checkouts, a cancellation and refunds (restocked or not)
 *               keep the column equal to the count over the orders;
 *   switched    every read answers what it answered before the switch, the
 *               catalogue page in one statement fewer;
 *   contracted  the contract migration then runs: NOT NULL, same answers.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sql } from 'kysely';

import { migrations } from '../migrations/index.js';
import { DEFAULT_MIGRATION_RUN_OPTIONS, migrateToLatest, pendingMigrations, rollbackOne, migrationStatus, type ProjectMigration } from '../src/db/migrator.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { countUnitsSold } from '../src/modules/products/sold-count.repository.js';
import { soldCountTransition } from '../src/modules/products/sold-count.service.js';
import { startBackfill, switchReads, TransitionCommandError } from '../src/transitions/commands.js';
import type { TransitionPhase } from '../src/transitions/phases.js';
import { createAccount, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { launchWorker, stopAll, until } from './helpers/worker-child.js';

jest.setTimeout(180_000);

const METRICS_TOKEN = 'metrics-token-for-the-transition-test-0123';
const EXPAND = soldCountTransition.expand;
/** The change's first migration: `schema_transitions`, which the running server reads once it exists. */
const FIRST_OF_THE_CHANGE = '2026_12_08_0015_schema_transitions';
const CONTRACT: string = soldCountTransition.contract ?? noContract();

function noContract(): never {
  throw new Error('products.soldCount declares no contract migration');
}

let server: TestServer;
let customer: Account;
let seller: Account;
let admin: Account;
/** Products with sales before the expand (NULL once the column is added), and one created after it. */
const before: ProductRow[] = [];
let created: string;

const CATALOGUE = `query Catalogue { products(first: 50, orderBy: { field: TITLE, direction: ASC }) { nodes { id title soldCount } } }`;
const PRODUCT = `query One($id: ID!) { product(id: $id) { id soldCount } node(id: $id) { ... on Product { id soldCount } } }`;
const CHECKOUT = `mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id version } userErrors { code message } } }`;

async function scrape(): Promise<string> {
  const res = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  return res.text();
}

/** Waits until the server reports the phase (its watcher reads the database every 100 ms). */
async function phaseReached(phase: TransitionPhase): Promise<void> {
  const line = `schema_transition_phase{transition="products.soldCount",phase="${phase}"} 1`;
  await until(`the server to see ${phase}`, async () => ((await scrape()).includes(line) ? true : undefined));
}

async function applied(name: string): Promise<boolean> {
  return (await migrationStatus(server.db)).some((m) => m.name === name && m.executedAt !== undefined);
}

/** Migrations of later releases: they sort after the contract, so they wait behind it (each one that does may wait too, or readiness would fail). */
const AFTER_CONTRACT = Object.keys(migrations)
  .filter((name) => name > CONTRACT)
  .sort();

/** Migrations up to and including `last`, as the release that ships `last` would run them. */
function migrationsUpTo(last: string) {
  return Object.fromEntries(Object.entries(migrations).filter(([name]) => name <= last));
}

async function checkout(items: Array<{ product: string; quantity: number }>): Promise<Array<{ id: string; version: number }>> {
  const res = await server.graphql<{ checkout: { orders: Array<{ id: string; version: number }> | null; userErrors: unknown[] } }>(
    CHECKOUT,
    { input: { items: items.map((item) => ({ productId: toProductGid(item.product), quantity: item.quantity })) } },
    { headers: { ...customer.headers, 'idempotency-key': randomUUID() } },
  );
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data?.checkout.userErrors).toEqual([]);
  return res.body.data?.checkout.orders ?? [];
}

const toProductGid = (id: string) => gid('Product', { id });

/** An order move over HTTP; `order.id` is the global id checkout answered. */
async function move(mutation: string, order: { id: string }, expectedVersion: number, account: Account): Promise<void> {
  const res = await server.graphql<Record<string, { userErrors: unknown[] }>>(
    `mutation ($input: ${mutation[0]?.toUpperCase()}${mutation.slice(1)}Input!) { ${mutation}(input: $input) { userErrors { code message } } }`,
    { input: { orderId: order.id, expectedVersion } },
    { headers: { ...account.headers, 'idempotency-key': randomUUID() } },
  );
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data?.[mutation]?.userErrors).toEqual([]);
}

/** Every product's units sold as the catalogue, `product` and `node` answer them. */
async function readsOverHttp(): Promise<Record<string, number>> {
  const page = await server.graphql<{ products: { nodes: Array<{ id: string; soldCount: number }> } }>(CATALOGUE);
  expect(page.body.errors).toBeUndefined();
  const answers: Record<string, number> = {};
  for (const node of page.body.data?.products.nodes ?? []) {
    answers[node.id] = node.soldCount;
    const one = await server.graphql<{ product: { soldCount: number }; node: { soldCount: number } }>(PRODUCT, { id: node.id });
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data?.product.soldCount).toBe(node.soldCount);
    expect(one.body.data?.node.soldCount).toBe(node.soldCount);
  }
  return answers;
}

/** The column and the count over the orders, for every product. */
async function bothShapes(): Promise<{ column: Record<string, number | null>; counted: Record<string, number> }> {
  const rows = await server.db.selectFrom('products').select(['id', 'sold_count']).execute();
  const counted = await countUnitsSold(server.db, rows.map((row) => row.id));
  return {
    column: Object.fromEntries(rows.map((row) => [row.id, row.sold_count])),
    counted: Object.fromEntries(counted.map((row) => [row.id, row.units])),
  };
}

async function transitionRow() {
  return server.db.selectFrom('schema_transitions').selectAll().where('name', '=', soldCountTransition.name).executeTakeFirst();
}

beforeAll(async () => {
  server = await startTestServer({ captureLogs: true, env: { TRANSITION_REFRESH_MS: '100', METRICS_TOKEN, LOGIN_LIMIT_PER_IP: '100000' } });
  customer = await createAccount(server, { role: 'CUSTOMER' });
  seller = await createAccount(server, { role: 'SELLER' });
  admin = await createAccount(server, { role: 'ADMIN' });
  const seed = seeder(server.db);
  const otherSeller = await seed.user({ role: 'SELLER' });
  // Seven products of two sellers with a history of orders in every state, written before the expand.
  for (let i = 0; i < 7; i += 1) {
    before.push(await seed.product({ seller: i % 2 === 0 ? seller.user : otherSeller, title: `Product ${i}`, stock: 100, status: 'ACTIVE' }));
  }
  const statuses = ['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED'] as const;
  for (const [i, product] of before.entries()) {
    for (let k = 0; k <= i; k += 1) {
      await seed.order({ customer: customer.user, items: [{ product, quantity: 1 + ((i + k) % 3) }], status: statuses[(i + k) % statuses.length] });
    }
  }
  // Back to the release before the change: its migrations undone, newest first, down to its first (the transitions' table).
  while (await applied(FIRST_OF_THE_CHANGE)) await rollbackOne(server.db);
  await phaseReached('before');
});

afterEach(async () => {
  await stopAll();
});

afterAll(async () => {
  await server.close();
});

describe('Product.soldCount through the phases of its schema change', () => {
  let answersBefore: Record<string, number>;

  it('before the expand, counts the units of orders that were not cancelled or refunded, and checkout works without the column', async () => {
    expect(await pendingMigrations(server.db)).toEqual(expect.arrayContaining([FIRST_OF_THE_CHANGE, EXPAND, CONTRACT]));
    const columns = await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'sold_count'`.execute(server.db);
    expect(columns.rows).toEqual([]);
    answersBefore = await readsOverHttp();
    const counted = await countUnitsSold(server.db, before.map((p) => p.id));
    expect(answersBefore).toEqual(Object.fromEntries(counted.map((row) => [toProductGid(row.id), row.units])));
    expect(Object.values(answersBefore).some((units) => units > 0)).toBe(true);
    await checkout([{ product: before[0]?.id ?? '', quantity: 2 }]);
    answersBefore = await readsOverHttp();
    expect(answersBefore[toProductGid(before[0]?.id ?? '')]).toBe((counted.find((row) => row.id === before[0]?.id)?.units ?? 0) + 2);
  });

  it('runs the expand under the running server: the column is nullable and NULL on every existing row, new products start at 0', async () => {
    await migrateToLatest(server.db, { ...DEFAULT_MIGRATION_RUN_OPTIONS, migrations: migrationsUpTo(EXPAND) });
    await phaseReached('expanded');
    const { column } = await bothShapes();
    expect(before.map((p) => column[p.id])).toEqual(before.map(() => null));
    // Created after the expand: the column's default; then bought, which the dual-write counts.
    const res = await server.graphql<{ createProduct: { product: { id: string } } }>(
      `mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }`,
      { input: { categoryId: gid('Category', { id: before[0]?.category_id ?? '' }), title: 'After the expand', price: { amount: 500, currency: 'EUR' }, stock: 50 } },
      { headers: seller.headers },
    );
    const createdGid = res.body.data?.createProduct.product.id ?? '';
    await server.graphql(`mutation ($input: PublishProductInput!) { publishProduct(input: $input) { product { status } } }`, { input: { productId: createdGid } }, { headers: seller.headers });
    created = (await server.db.selectFrom('products').select('id').where('title', '=', 'After the expand').executeTakeFirstOrThrow()).id;
    expect((await bothShapes()).column[created]).toBe(0);
    await checkout([{ product: created, quantity: 3 }, { product: before[1]?.id ?? '', quantity: 1 }]);
    const after = await bothShapes();
    expect(after.column[created]).toBe(3);
    expect(after.counted[created]).toBe(3);
    // Not counted yet: a sale leaves NULL as it is, for the backfill, and so does its cancellation.
    expect(after.column[before[1]?.id ?? '']).toBeNull();
    const [order] = await checkout([{ product: before[4]?.id ?? '', quantity: 1 }]);
    await move('cancelOrder', order ?? { id: '' }, 1, customer);
    expect((await bothShapes()).column[before[4]?.id ?? '']).toBeNull();
  });

  it('lets the contract migration wait while products are not counted: no error, nothing changed, the server ready', async () => {
    const run = await migrateToLatest(server.db);
    expect(run.results).toEqual([]);
    expect(run.waiting).toEqual({ migration: CONTRACT, reason: expect.stringContaining('products.sold_count is not backfilled yet') as unknown });
    expect(await pendingMigrations(server.db)).toEqual([CONTRACT, ...AFTER_CONTRACT]);
    const ready = await server.request('/health/ready');
    expect(ready.status).toBe(200);
    // Run anyway (as if it had not been asked), it refuses with the count and changes nothing.
    const missing = Object.values((await bothShapes()).column).filter((value) => value === null).length;
    const { waitsFor: _ignored, ...unasked } = migrations[CONTRACT] as ProjectMigration;
    await expect(migrateToLatest(server.db, { ...DEFAULT_MIGRATION_RUN_OPTIONS, migrations: { ...migrations, [CONTRACT]: unasked } })).rejects.toMatchObject({
      cause: { message: expect.stringContaining(`products.sold_count is not backfilled: ${missing} products have no sold count yet`) as unknown },
    });
    expect(await applied(EXPAND)).toBe(true);
    expect(await pendingMigrations(server.db)).toEqual([CONTRACT, ...AFTER_CONTRACT]);
    const column = await sql<{ not_null: boolean }>`SELECT attnotnull AS not_null FROM pg_attribute WHERE attrelid = 'products'::regclass AND attname = 'sold_count'`.execute(server.db);
    expect(column.rows).toEqual([{ not_null: false }]);
    const constraints = await sql<{ name: string }>`SELECT conname AS name FROM pg_constraint WHERE conrelid = 'products'::regclass AND conname LIKE 'products_sold_count%' ORDER BY conname`.execute(server.db);
    expect(constraints.rows).toEqual([{ name: 'products_sold_count_check' }]);
    // Writes to rows that are still NULL go on.
    await checkout([{ product: before[2]?.id ?? '', quantity: 1 }]);
    await phaseReached('expanded');
  });

  it('refuses to switch reads before the backfill', async () => {
    await expect(switchReads(server.db, soldCountTransition, true)).rejects.toBeInstanceOf(TransitionCommandError);
  });

  it('backfills in batches through a chain of jobs, resumes after its worker is killed part-way, and counts every product exactly once', async () => {
    const products = Number((await server.db.selectFrom('products').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const nulls = Object.values((await bothShapes()).column).filter((value) => value === null).length;
    // Two batches per job (each job hands over to the next after 300 ms), so the run spans several jobs as well as two workers.
    expect(await startBackfill(server.db, soldCountTransition, { batchSize: 2, pauseMs: 400, runMs: 300 })).toEqual({ started: true });
    const env = {
      DATABASE_URL: server.config.databaseUrl ?? '',
      TRANSITION_REFRESH_MS: '100',
      WORKER_POLL_INTERVAL_MS: '200',
      WORKER_RECOVERY_INTERVAL_MS: '1000',
    };
    const first = await launchWorker(env);
    await until('two committed batches', async () => ((await transitionRow())?.backfill_batches ?? 0) >= 2 ? true : undefined, first.output);
    first.child.kill('SIGKILL');
    await first.exited;
    const atKill = await transitionRow();
    expect(atKill?.backfill_completed_at).toBeNull();
    expect(Number(atKill?.backfill_scanned)).toBeLessThan(products);

    const second = await launchWorker(env);
    await until('the backfill to complete', async () => ((await transitionRow())?.backfill_completed_at ? true : undefined), second.output, 120_000);
    const done = await transitionRow();
    // The second worker alone ran several jobs of the chain, each handing over to the next.
    const jobsDone = second.output().split('\n').filter((line) => line.includes('"task":"products.backfillSoldCount"') && line.includes('"msg":"job done"'));
    expect(jobsDone.length).toBeGreaterThanOrEqual(2);
    // Each batch committed once with its cursor: no product scanned twice, none skipped.
    expect(Number(done?.backfill_scanned)).toBe(products);
    expect(done?.backfill_batches).toBe(Math.floor(products / 2) + 1);
    // NULL became a number on exactly the rows written before the expand; the rest were right already.
    expect(Number(done?.backfill_changed)).toBe(nulls);
    const { column, counted } = await bothShapes();
    expect(column).toEqual(counted);
    await phaseReached('backfilled');
    const metrics = await scrape();
    expect(metrics).toContain(`schema_transition_backfill_rows{transition="products.soldCount",count="scanned"} ${products}`);
    expect(metrics).toContain('schema_transition_backfill_completed{transition="products.soldCount"} 1');
  });

  it('keeps the column equal to the count over the orders through checkouts, a cancellation and refunds', async () => {
    const [a, b] = [before[3]?.id ?? '', created];
    const cancelled = await checkout([{ product: a, quantity: 2 }]);
    const paidThenRefunded = await checkout([{ product: a, quantity: 1 }, { product: b, quantity: 1 }]);
    const shippedThenRefunded = await checkout([{ product: b, quantity: 4 }]);
    await move('cancelOrder', cancelled[0] ?? { id: '' }, 1, customer);
    for (const order of paidThenRefunded) {
      await move('markOrderPaid', order, 1, admin);
      await move('refundOrder', order, 2, admin);
    }
    const shipped = shippedThenRefunded[0] ?? { id: '' };
    await move('markOrderPaid', shipped, 1, admin);
    await move('shipOrder', shipped, 2, seller);
    await move('refundOrder', shipped, 3, admin);
    const { column, counted } = await bothShapes();
    expect(column).toEqual(counted);
  });

  it('answers every read the same after the switch as before it, and reads the catalogue page in one statement fewer', async () => {
    const statements = async () => {
      const res = await server.graphql(CATALOGUE);
      const id = res.headers.get('x-request-id');
      return server.logs.find((line) => line['requestId'] === id && line['msg'] === 'request completed')?.['sqlCount'];
    };
    const oldReads = await readsOverHttp();
    const oldStatements = await statements();
    await switchReads(server.db, soldCountTransition, true);
    await phaseReached('switched');
    expect(await readsOverHttp()).toEqual(oldReads);
    expect(await statements()).toBe((oldStatements as number) - 1);
    // And back, at run time too.
    await switchReads(server.db, soldCountTransition, false);
    await phaseReached('backfilled');
    expect(await readsOverHttp()).toEqual(oldReads);
    await switchReads(server.db, soldCountTransition, true);
    await phaseReached('switched');
  });

  it('runs the contract once every product is counted: NOT NULL, the same answers, the column still kept', async () => {
    const reads = await readsOverHttp();
    await migrateToLatest(server.db);
    await phaseReached('contracted');
    const column = await sql<{ not_null: boolean }>`SELECT attnotnull AS not_null FROM pg_attribute WHERE attrelid = 'products'::regclass AND attname = 'sold_count'`.execute(server.db);
    expect(column.rows).toEqual([{ not_null: true }]);
    expect(await readsOverHttp()).toEqual(reads);
    await checkout([{ product: created, quantity: 1 }]);
    const shapes = await bothShapes();
    expect(shapes.column).toEqual(shapes.counted);
  });
});
