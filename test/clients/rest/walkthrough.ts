/**
 * The README's commerce walk-through, over REST, as a partner writes it with
 * a client generated from /v1/openapi.json (openapi-typescript's types in
 * ./v1.ts, openapi-fetch): browse the catalogue, check out with an
 * Idempotency-Key and replay it, list the orders, cancel one.
 * test/clients/rest-client.test.ts compiles this file with `tsc --strict`
 * on its own and runs it against a test server.
 */
import createClient from 'openapi-fetch';

import type { components, paths } from './v1.js';

type Problem = components['schemas']['Problem'];

export interface WalkthroughResult {
  browsed: { status: number; titles: string[]; next: string | null };
  checkout: { status: number; location: string | null; orderId: string; total: number };
  replay: { status: number; replayed: string | null; sameOrder: boolean };
  withoutKey: { status: number; problem: Problem | undefined };
  listed: { status: number; orderIds: string[] };
  cancelled: { status: number; orderStatus: string };
  cancelledAgain: { status: number; problem: Problem | undefined };
}

/** Runs the walk-through as `token`'s owner; `newKey` makes each checkout's Idempotency-Key. */
export async function commerceWalkthrough(baseUrl: string, token: string, newKey: () => string): Promise<WalkthroughResult> {
  const client = createClient<paths>({ baseUrl });
  const headers = { authorization: `Bearer ${token}` };

  // Browse: the three cheapest products in stock.
  const page = await client.GET('/v1/products', { params: { query: { first: 3, inStock: true, sort: 'PRICE', direction: 'ASC' } } });
  if (!page.data) throw new Error(`browsing failed: ${page.response.status}`);
  const product = page.data.nodes[0];
  if (!product) throw new Error('the catalogue is empty');

  // Buy one, safely: the key makes a retry harmless.
  const key = newKey();
  const cart = { items: [{ productId: product.id, quantity: 1 }] };
  const bought = await client.POST('/v1/checkout', { params: { header: { 'Idempotency-Key': key } }, headers, body: cart });
  const order = bought.data?.orders?.[0];
  if (!order) throw new Error(`checkout failed: ${bought.response.status} ${JSON.stringify(bought.error)}`);

  // The answer was lost on the way: the same request with the same key replays it.
  const again = await client.POST('/v1/checkout', { params: { header: { 'Idempotency-Key': key } }, headers, body: cart });

  // Without a key, checkout is refused before anything runs.
  const unkeyed = await fetch(new URL('/v1/checkout', baseUrl), { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(cart) });
  const unkeyedProblem = (await unkeyed.json()) as Problem;

  // The customer's orders, newest first.
  const orders = await client.GET('/v1/orders', { headers, params: { query: { status: ['PENDING_PAYMENT'] } } });
  if (!orders.data) throw new Error(`listing orders failed: ${orders.response.status}`);

  // Cancel it with the version just read; a second cancel with that version is a conflict.
  const cancel = await client.POST('/v1/orders/{id}/cancel', { params: { path: { id: order.id } }, headers, body: { expectedVersion: order.version } });
  if (!cancel.data?.order) throw new Error(`cancelling failed: ${cancel.response.status} ${JSON.stringify(cancel.error)}`);
  const stale = await client.POST('/v1/orders/{id}/cancel', { params: { path: { id: order.id } }, headers, body: { expectedVersion: order.version } });

  return {
    browsed: { status: page.response.status, titles: page.data.nodes.map((node) => node.title), next: page.response.headers.get('link') },
    checkout: { status: bought.response.status, location: bought.response.headers.get('location'), orderId: order.id, total: order.total.amount },
    replay: { status: again.response.status, replayed: again.response.headers.get('idempotent-replayed'), sameOrder: again.data?.orders?.[0]?.id === order.id },
    withoutKey: { status: unkeyed.status, problem: unkeyedProblem },
    listed: { status: orders.response.status, orderIds: orders.data.nodes.map((node) => node.id) },
    cancelled: { status: cancel.response.status, orderStatus: cancel.data.order.status },
    cancelledAgain: { status: stale.response.status, problem: stale.error },
  };
}
