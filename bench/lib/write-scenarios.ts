/**
 * The write scenarios of `npm run bench:writes` (bench/writes.ts), each in two
 * forms that do the same work on the same database:
 *
 *   - through the API: a keyed mutation (a fresh `Idempotency-Key` per
 *     request), signed in, over HTTP;
 *   - by hand: the same transaction written directly over `pg`, as a careful
 *     hand-writer would: claim the idempotency record (its own committed
 *     statement, as the API does), BEGIN (READ COMMITTED, the API's isolation),
 *     the domain statements, complete the record with the response body, COMMIT.
 *     Named prepared statements, like the API's (src/db/connection.ts).
 *
 * What the hand-written form leaves out is what the API does on top of the
 * SQL: HTTP, parsing, validation, authentication (two reads), permission
 * rules, cost accounting, sealing the stored response, loaders, the domain
 * events' outbox statement, the change feed, logging. That difference is what
 * the benchmark measures.
 */
import { createHash, randomUUID } from 'node:crypto';

import type pg from 'pg';

import { toGlobalId } from '../../src/graphql/global-id.js';

export const WRITE_SCENARIOS = ['checkout', 'cancelOrder', 'createReview'] as const;
export type WriteScenario = (typeof WRITE_SCENARIOS)[number];

/** One request's target: whose (an index into the customers) and what (a product id, or an order id for cancelOrder). */
export interface WriteJob {
  customer: number;
  target: string;
}

export interface BenchCustomer {
  userId: string;
  /** An access token of a session of theirs (the API side). */
  token: string;
}

const DOCUMENTS: Record<WriteScenario, { operationName: string; query: string }> = {
  checkout: {
    operationName: 'Checkout',
    query:
      'mutation Checkout($input: CheckoutInput!) { checkout(input: $input) { orders { id status total { amount currency } items { title quantity } } userErrors { field code message } } }',
  },
  cancelOrder: {
    operationName: 'CancelOrder',
    query: 'mutation CancelOrder($input: CancelOrderInput!) { cancelOrder(input: $input) { order { id status version } userErrors { field code message } } }',
  },
  createReview: {
    operationName: 'CreateReview',
    query:
      'mutation CreateReview($input: CreateReviewInput!) { createReview(input: $input) { review { id rating title version } userErrors { field code message } } }',
  },
};

const REVIEW = { rating: 4, title: 'Does what it says', body: 'Arrived on time and works as described.' } as const;

function variablesOf(scenario: WriteScenario, job: WriteJob): Record<string, unknown> {
  switch (scenario) {
    case 'checkout':
      return { input: { items: [{ productId: toGlobalId('Product', job.target), quantity: 1 }] } };
    case 'cancelOrder':
      return { input: { orderId: toGlobalId('Order', job.target), expectedVersion: 1 } };
    case 'createReview':
      return { input: { productId: toGlobalId('Product', job.target), ...REVIEW } };
  }
}

/** The JSON body of the API request for `job`. */
export function apiBody(scenario: WriteScenario, job: WriteJob): Buffer {
  const { operationName, query } = DOCUMENTS[scenario];
  return Buffer.from(JSON.stringify({ query, operationName, variables: variablesOf(scenario, job) }));
}

/** `null` when the API answered the mutation with its object and no user errors, else what it answered. */
export function judgeApiAnswer(status: number, body: string): string | null {
  // Cheap on purpose: the load generator shares the cores with the server.
  if (status === 200 && body.includes('"userErrors":[]') && !body.includes('"errors":')) return null;
  return `${status} ${body.slice(0, 300)}`;
}

// ---------------------------------------------------------------- by hand, over pg

/** What the hand-written transactions need: a pool and the credential their keys are scoped to. */
export interface HandWritten {
  pool: pg.Pool;
  /** Stands for the session family the API scopes a key to. */
  credential: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

const CLAIM = `INSERT INTO idempotency_keys (principal, credential, key, fingerprint, status, claim_id, locked_until, expires_at)
VALUES ($1, $2, $3, $4, 'IN_PROGRESS', $5, now() + interval '15 seconds', now() + interval '24 hours')
ON CONFLICT (principal, credential, key) DO NOTHING RETURNING claim_id`;
const COMPLETE = `UPDATE idempotency_keys SET status = 'COMPLETED', response_status = 200, response_content_type = $5, response_body = $6
WHERE principal = $1 AND credential = $2 AND key = $3 AND claim_id = $4 AND status = 'IN_PROGRESS'`;
const RELEASE = `DELETE FROM idempotency_keys WHERE principal = $1 AND credential = $2 AND key = $3 AND claim_id = $4 AND status = 'IN_PROGRESS'`;

/** A user error in the hand-written transaction: it rolls back (the API would answer it with userErrors). */
class Refused extends Error {}

/**
 * The keyed frame every hand-written mutation shares: claim the key in its
 * own statement, then one transaction that runs `work`, stores its response
 * on the record and commits. Any failure rolls back and frees the key.
 */
async function keyed(
  hand: HandWritten,
  principal: string,
  request: { scenario: WriteScenario; job: WriteJob },
  work: (client: pg.PoolClient) => Promise<unknown>,
): Promise<string | null> {
  const key = randomUUID();
  const claimId = randomUUID();
  const { operationName, query } = DOCUMENTS[request.scenario];
  const fingerprint = createHash('sha256').update(JSON.stringify([query, operationName, variablesOf(request.scenario, request.job)])).digest('hex');
  const ref = [principal, hand.credential, key, claimId];
  const claimed = await hand.pool.query({ name: 'hw_claim', text: CLAIM, values: [principal, hand.credential, key, fingerprint, claimId] });
  if (claimed.rowCount !== 1) return 'the fresh key was already claimed';
  const client = await hand.pool.connect();
  try {
    await client.query('BEGIN');
    const payload = await work(client);
    const body = JSON.stringify({ data: { [request.scenario]: payload } });
    const completed = await client.query({ name: 'hw_complete', text: COMPLETE, values: [...ref, JSON_TYPE, body] });
    if (completed.rowCount !== 1) throw new Error('the claim was taken over');
    await client.query('COMMIT');
    return null;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    await hand.pool.query({ name: 'hw_release', text: RELEASE, values: ref });
    if (error instanceof Refused) return error.message;
    throw error;
  } finally {
    client.release();
  }
}

interface ProductForSale {
  id: string;
  seller_id: string;
  title: string;
  price_amount: number;
  currency: string;
  stock: number;
  status: string;
  deleted_at: Date | null;
}

/** Buys one unit of `job.target`: lock, check, conditional stock update, the order and its item. */
function checkoutByHand(hand: HandWritten, customers: readonly BenchCustomer[], job: WriteJob): Promise<string | null> {
  const customer = customers[job.customer];
  if (!customer) throw new Error(`no customer ${job.customer}`);
  return keyed(hand, customer.userId, { scenario: 'checkout', job }, async (client) => {
    const locked = await client.query<ProductForSale>({
      name: 'hw_lock_products',
      text: 'SELECT id, seller_id, title, price_amount, currency, stock, status, deleted_at FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
      values: [[job.target]],
    });
    const product = locked.rows[0];
    if (!product || product.status !== 'ACTIVE' || product.deleted_at !== null || product.seller_id === customer.userId) throw new Refused('NOT_FOUND');
    if (product.stock < 1) throw new Refused('OUT_OF_STOCK');
    const taken = await client.query({
      name: 'hw_take_stock',
      text: 'UPDATE products SET stock = stock - $2, version = version + 1, updated_at = now() WHERE id = $1 AND stock >= $2',
      values: [product.id, 1],
    });
    if (taken.rowCount !== 1) throw new Error('stock changed under the lock');
    const order = await client.query<{ id: string; status: string; total_amount: string; currency: string }>({
      name: 'hw_insert_order',
      text: `INSERT INTO orders (customer_id, seller_id, status, currency, total_amount) VALUES ($1, $2, 'PENDING_PAYMENT', $3, $4)
             RETURNING id, status, total_amount, currency`,
      values: [customer.userId, product.seller_id, product.currency, product.price_amount],
    });
    const row = order.rows[0];
    if (!row) throw new Error('no order inserted');
    const item = await client.query<{ product_title: string; quantity: number }>({
      name: 'hw_insert_item',
      text: `INSERT INTO order_items (order_id, product_id, product_title, quantity, unit_price_amount, currency) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING product_title, quantity`,
      values: [row.id, product.id, product.title, 1, product.price_amount, product.currency],
    });
    return {
      orders: [
        {
          id: toGlobalId('Order', row.id),
          status: row.status,
          total: { amount: Number(row.total_amount), currency: row.currency },
          items: item.rows.map((line) => ({ title: line.product_title, quantity: line.quantity })),
        },
      ],
      userErrors: [],
    };
  });
}

/** Cancels an unpaid order of the customer's: lock it, check, move it, return its stock (products locked in id order), audit. */
function cancelByHand(hand: HandWritten, customers: readonly BenchCustomer[], job: WriteJob, requestId: string): Promise<string | null> {
  const customer = customers[job.customer];
  if (!customer) throw new Error(`no customer ${job.customer}`);
  return keyed(hand, customer.userId, { scenario: 'cancelOrder', job }, async (client) => {
    const locked = await client.query<{ id: string; customer_id: string; status: string; version: number }>({
      name: 'hw_lock_order',
      text: 'SELECT id, customer_id, status, version FROM orders WHERE id = $1 FOR UPDATE',
      values: [job.target],
    });
    const current = locked.rows[0];
    if (!current || current.customer_id !== customer.userId) throw new Refused('NOT_FOUND');
    if (current.version !== 1) throw new Refused('VERSION_CONFLICT');
    if (current.status !== 'PENDING_PAYMENT') throw new Refused('INVALID_TRANSITION');
    const moved = await client.query<{ id: string; status: string; version: number }>({
      name: 'hw_cancel_order',
      text: `UPDATE orders SET status = 'CANCELLED', cancelled_at = now(), version = version + 1, updated_at = now()
             WHERE id = $1 AND version = $2 AND status = 'PENDING_PAYMENT' RETURNING id, status, version`,
      values: [current.id, current.version],
    });
    const order = moved.rows[0];
    if (!order) throw new Error('the order changed under the lock');
    const items = await client.query<{ product_id: string; quantity: number }>({
      name: 'hw_order_items',
      text: 'SELECT product_id, quantity FROM order_items WHERE order_id = $1 ORDER BY product_id',
      values: [order.id],
    });
    const ids = items.rows.map((line) => line.product_id);
    await client.query({ name: 'hw_lock_stock', text: 'SELECT id FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', values: [ids] });
    await client.query({
      name: 'hw_return_stock',
      text: `UPDATE products AS p SET stock = p.stock + v.quantity, version = p.version + 1, updated_at = now()
             FROM unnest($1::uuid[], $2::integer[]) AS v(id, quantity) WHERE p.id = v.id`,
      values: [ids, items.rows.map((line) => line.quantity)],
    });
    await client.query({
      name: 'hw_audit',
      text: `INSERT INTO audit_events (action, actor_id, target_type, target_id, request_id, ip, user_agent, metadata)
             VALUES ('ORDER_CANCELLED', $1, 'Order', $2, $3, '127.0.0.1', 'bench', $4)`,
      values: [customer.userId, order.id, requestId, JSON.stringify({ from: 'PENDING_PAYMENT', to: 'CANCELLED', version: order.version })],
    });
    return { order: { id: toGlobalId('Order', order.id), status: order.status, version: order.version }, userErrors: [] };
  });
}

/** Reviews a product the customer received: the product, the eligibility (its DELIVERED order locked FOR SHARE), the insert. */
function reviewByHand(hand: HandWritten, customers: readonly BenchCustomer[], job: WriteJob): Promise<string | null> {
  const customer = customers[job.customer];
  if (!customer) throw new Error(`no customer ${job.customer}`);
  return keyed(hand, customer.userId, { scenario: 'createReview', job }, async (client) => {
    const found = await client.query<{ seller_id: string; status: string; deleted_at: Date | null }>({
      name: 'hw_product',
      text: 'SELECT seller_id, status, deleted_at FROM products WHERE id = $1',
      values: [job.target],
    });
    const product = found.rows[0];
    if (!product || product.status !== 'ACTIVE' || product.deleted_at !== null) throw new Refused('NOT_FOUND');
    if (product.seller_id === customer.userId) throw new Refused('NOT_ELIGIBLE');
    const eligibility = await client.query<{ purchased: boolean; reviewed: boolean }>({
      name: 'hw_eligibility',
      text: `SELECT EXISTS (SELECT 1 FROM order_items oi JOIN orders o ON o.id = oi.order_id
                             WHERE oi.product_id = $1 AND o.customer_id = $2 AND o.status = 'DELIVERED' LIMIT 1 FOR SHARE OF o) AS purchased,
                    EXISTS (SELECT 1 FROM reviews r WHERE r.product_id = $1 AND r.author_id = $2 AND r.deleted_at IS NULL) AS reviewed`,
      values: [job.target, customer.userId],
    });
    const row = eligibility.rows[0];
    if (!row?.purchased) throw new Refused('NOT_ELIGIBLE');
    if (row.reviewed) throw new Refused('ALREADY_REVIEWED');
    const inserted = await client.query<{ id: string; rating: number; title: string; version: number }>({
      name: 'hw_insert_review',
      text: `INSERT INTO reviews (product_id, author_id, rating, title, body) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product_id, author_id) WHERE deleted_at IS NULL DO NOTHING RETURNING id, rating, title, version`,
      values: [job.target, customer.userId, REVIEW.rating, REVIEW.title, REVIEW.body],
    });
    const review = inserted.rows[0];
    if (!review) throw new Refused('ALREADY_REVIEWED');
    return { review: { id: toGlobalId('Review', review.id), rating: review.rating, title: review.title, version: review.version }, userErrors: [] };
  });
}

/** Runs `job` of `scenario` by hand; `null` on success, else what went wrong. */
export function runByHand(hand: HandWritten, scenario: WriteScenario, customers: readonly BenchCustomer[], job: WriteJob): Promise<string | null> {
  switch (scenario) {
    case 'checkout':
      return checkoutByHand(hand, customers, job);
    case 'cancelOrder':
      return cancelByHand(hand, customers, job, randomUUID());
    case 'createReview':
      return reviewByHand(hand, customers, job);
  }
}
