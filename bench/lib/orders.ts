/**
 * Commerce scenarios: checkout (signed in, a fresh Idempotency-Key per
 * request, so every request really buys) and the buyer's order list with
 * items, products and sellers. Both report statements per request and
 * throughput; neither fails on a threshold.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

import type { Database } from '../../src/db/database.js';
import { toGlobalId } from '../../src/graphql/global-id.js';
import { graphqlBody, type GraphQLClient } from './http.js';
import { compare, once, type RunOptions, type Variant, type VariantResult } from './measure.js';
import type { Check, ScenarioResult } from './report.js';
import type { RequestLog } from './request-log.js';

const LOG_IN = `mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { code } } }`;

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { orders { id status total { amount currency } items { title quantity } } userErrors { field code } }
}`;

const MY_ORDERS = `query MyOrders {
  viewer { orders(first: 20) { totalCount nodes {
    id status createdAt total { amount currency } seller { displayName }
    items { title quantity unitPrice { amount } product { id title } }
  } } }
}`;

export interface OrderScenarioOptions {
  client: GraphQLClient;
  db: Kysely<Database>;
  account: { email: string; password: string };
  log: RequestLog;
  warnings: string[];
  sequential: RunOptions;
  concurrent: RunOptions;
}

function dataOf(json: unknown): Record<string, unknown> | undefined {
  if (typeof json !== 'object' || json === null || !('data' in json)) return undefined;
  return ((json as { data: Record<string, unknown> | null }).data ?? undefined);
}

function statements(name: string, result: VariantResult, warnings: string[]): Check {
  const ok = result.sqlCount !== null;
  const detail = ok ? `${result.sqlCount} per request` : `varies: ${result.sqlCounts.join('|')}`;
  if (!ok) warnings.push(`${name}: ${detail}`);
  return { name, ok, detail };
}

async function signIn(options: OrderScenarioOptions): Promise<string> {
  const { json } = await once(
    {
      label: 'logIn',
      client: options.client,
      body: graphqlBody(LOG_IN, { input: { ...options.account, refreshTokenDelivery: 'PAYLOAD' } }, 'LogIn'),
      validate: (body) => ((dataOf(body)?.['logIn'] as { accessToken?: string } | undefined)?.accessToken ? null : 'logIn returned no access token'),
    },
    options.log,
  );
  const token = (dataOf(json)?.['logIn'] as { accessToken?: string } | undefined)?.accessToken;
  if (!token) throw new Error('logIn returned no access token');
  return token;
}

/**
 * Two ACTIVE products of two sellers, stocked so the run cannot sell out:
 * every checkout makes two orders (one per seller) and takes one unit of each.
 */
async function cartProducts(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('products')
    .select(['id', 'seller_id'])
    .where('status', '=', 'ACTIVE')
    .where('deleted_at', 'is', null)
    .where('currency', '=', 'EUR')
    .orderBy('id')
    .limit(200)
    .execute();
  const first = rows[0];
  const second = rows.find((row) => first && row.seller_id !== first.seller_id);
  if (!first || !second) throw new Error('the bench catalogue has no two ACTIVE products of different sellers');
  await db.updateTable('products').set({ stock: 1_000_000 }).where('id', 'in', [first.id, second.id]).execute();
  return [first.id, second.id];
}

export async function scenarioCheckout(options: OrderScenarioOptions): Promise<ScenarioResult> {
  const token = await signIn(options);
  const products = await cartProducts(options.db);
  const body = graphqlBody(CHECKOUT, { input: { items: products.map((id) => ({ productId: toGlobalId('Product', id), quantity: 1 })) } }, 'Checkout');
  const variant = (label: string): Variant => ({
    label,
    client: options.client,
    body,
    headers: () => ({ authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() }),
    validate: (json) => {
      const payload = dataOf(json)?.['checkout'] as { orders: unknown[] | null; userErrors: unknown[] } | undefined;
      if (!payload) return 'no data.checkout';
      if (payload.userErrors.length > 0) return `userErrors: ${JSON.stringify(payload.userErrors)}`;
      return payload.orders?.length === 2 ? null : 'expected two orders';
    },
  });
  const [sequential] = (await compare([variant('checkout, 2 sellers (sequential)')], options.sequential, options.log)) as [VariantResult];
  const [concurrent] = (await compare([variant(`checkout, 2 sellers (${options.concurrent.concurrency} in flight)`)], options.concurrent, options.log)) as [
    VariantResult,
  ];
  return {
    id: 'e',
    title: 'Checkout: a two-seller cart, signed in, a fresh Idempotency-Key per request',
    shows:
      'The whole write path: key claim, one transaction (products locked in id order, conditional stock update, ' +
      'two orders, their items), the stored response, commit. Every request buys; all of them take the same two product ' +
      'rows, so concurrent checkouts queue on those row locks.',
    variants: [sequential, concurrent],
    ratios: [],
    checks: [statements('SQL statements per checkout (sequential)', sequential, options.warnings), statements('SQL statements per checkout (concurrent)', concurrent, options.warnings)],
    notes: ['Statements include authentication, the key claim and its stored response, BEGIN and COMMIT.'],
  };
}

export async function scenarioMyOrders(options: OrderScenarioOptions): Promise<ScenarioResult> {
  const token = await signIn(options);
  const variant: Variant = {
    label: 'viewer.orders(first: 20) with items, products, sellers',
    client: options.client,
    body: graphqlBody(MY_ORDERS, {}, 'MyOrders'),
    headers: { authorization: `Bearer ${token}` },
    validate: (json) => {
      const orders = (dataOf(json)?.['viewer'] as { orders?: { nodes: unknown[] } } | undefined)?.orders;
      return orders && orders.nodes.length === 20 ? null : 'expected a full page of 20 orders (run the checkout scenario first)';
    },
  };
  const [sequential] = (await compare([variant], options.sequential, options.log)) as [VariantResult];
  const [concurrent] = (await compare([{ ...variant, label: `${variant.label} (${options.concurrent.concurrency} in flight)` }], options.concurrent, options.log)) as [
    VariantResult,
  ];
  return {
    id: 'f',
    title: "My orders: a customer's 20 newest orders with items, products and sellers",
    shows: 'Order reads batched through loaders: a page, its items, their products and the sellers, each one statement.',
    variants: [sequential, concurrent],
    ratios: [],
    checks: [statements('SQL statements per request (sequential)', sequential, options.warnings), statements('SQL statements per request (concurrent)', concurrent, options.warnings)],
    notes: [],
  };
}
