import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type TestServer } from './helpers/server.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import type { ProductRow } from '../src/modules/products/product.table.js';

/** The review ABAC rule, as clients see it through Product.viewerCanReview. */
let server: TestServer;
let buyer: Account;
let seller: Account;
let bought: ProductRow;
let pending: ProductRow;

async function order(customerId: string, sellerId: string, product: ProductRow, status: 'DELIVERED' | 'SHIPPED'): Promise<void> {
  const row = await server.db
    .insertInto('orders')
    .values({ customer_id: customerId, seller_id: sellerId, status, currency: 'EUR', total_amount: product.price_amount })
    .returning('id')
    .executeTakeFirstOrThrow();
  await server.db
    .insertInto('order_items')
    .values({ order_id: row.id, product_id: product.id, product_title: product.title, quantity: 1, unit_price_amount: product.price_amount, currency: 'EUR' })
    .execute();
}

beforeAll(async () => {
  server = await startTestServer({ captureLogs: true });
  buyer = await createAccount(server);
  seller = await createAccount(server, { role: 'SELLER' });
  const seed = seeder(server.db);
  [bought, pending] = await Promise.all([
    seed.product({ seller: seller.user, title: 'Bought and delivered' }),
    seed.product({ seller: seller.user, title: 'Shipped, not delivered' }),
  ]);
  await seed.product({ seller: seller.user, title: 'Never bought' });
  await order(buyer.user.id, seller.user.id, bought, 'DELIVERED');
  await order(buyer.user.id, seller.user.id, pending, 'SHIPPED');
});

afterAll(async () => {
  await server.close();
});

const QUERY = '{ products(first: 10, orderBy: { field: TITLE, direction: ASC }) { nodes { title viewerCanReview } } }';

describe('review eligibility (ABAC)', () => {
  it('allows only products the viewer received, in one statement for the whole page', async () => {
    const res = await server.graphql(QUERY, undefined, { headers: buyer.headers });
    expect(res.body.data).toEqual({
      products: {
        nodes: [
          { title: 'Bought and delivered', viewerCanReview: true },
          { title: 'Never bought', viewerCanReview: false },
          { title: 'Shipped, not delivered', viewerCanReview: false },
        ],
      },
    });
    const line = server.logs.find((l) => l['requestId'] === res.headers.get('x-request-id') && l.msg === 'request completed');
    const anonymous = await server.graphql('{ products(first: 10) { nodes { title } } }');
    const anonymousLine = server.logs.find((l) => l['requestId'] === anonymous.headers.get('x-request-id') && l.msg === 'request completed');
    // Authentication (user + session) and one eligibility batch on top of the anonymous page.
    expect(line?.['sqlCount']).toBe((anonymousLine?.['sqlCount'] as number) + 3);
  });

  it('is false once the viewer has a live review, and again true after it is deleted', async () => {
    const review = await seeder(server.db).review({ product: bought, author: buyer.user });
    const check = async () =>
      (await server.graphql<{ product: { viewerCanReview: boolean } }>('query ($id: ID!) { product(id: $id) { viewerCanReview } }', { id: gid('Product', bought) }, { headers: buyer.headers })).body.data?.product.viewerCanReview;
    expect(await check()).toBe(false);
    await server.db.updateTable('reviews').set({ deleted_at: new Date() }).where('id', '=', review.id).execute();
    expect(await check()).toBe(true);
  });

  it('is false for anonymous callers, the product\'s own seller and API keys without REVIEWS_WRITE', async () => {
    const id = gid('Product', bought);
    const q = 'query ($id: ID!) { product(id: $id) { viewerCanReview } }';
    expect((await server.graphql(q, { id })).body.data).toEqual({ product: { viewerCanReview: false } });
    expect((await server.graphql(q, { id }, { headers: seller.headers })).body.data).toEqual({ product: { viewerCanReview: false } });
    const readOnly = await createApiKey(server, buyer, ['CATALOG_READ']);
    expect((await server.graphql(q, { id }, { headers: readOnly.headers })).body.data).toEqual({ product: { viewerCanReview: false } });
    const writer = await createApiKey(server, buyer, ['CATALOG_READ', 'REVIEWS_WRITE']);
    expect((await server.graphql(q, { id }, { headers: writer.headers })).body.data).toEqual({ product: { viewerCanReview: true } });
  });
});
