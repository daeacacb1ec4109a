/**
 * Who may call the review mutations (anonymous callers, API keys without
 * REVIEWS_WRITE) and what a committed review write announces to the change
 * feed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { createReview } from '../src/modules/reviews/review.service.js';
import type { Change, ChangeFeed } from '../src/scope/changes.js';
import { createAccount, createApiKey } from './helpers/auth.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { gid } from './helpers/seed.js';
import { server, seller, admin, create, update, remove, summary, received, liveReviewCount, reviewed, rowIdOf, startReviewServer, CREATE, RESTORE, type Data, type UserErrorOut } from './helpers/review-writes.js';

startReviewServer();

describe('callers', () => {
  it('refuses anonymous callers (UNAUTHENTICATED), and API keys without REVIEWS_WRITE (FORBIDDEN), writing nothing', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const readOnly = await createApiKey(server, customer, ['CATALOG_READ', 'ORDERS_READ']);
    for (const [headers, code] of [
      [{}, 'UNAUTHENTICATED'],
      [readOnly.headers, 'FORBIDDEN'],
    ] as const) {
      const res = await server.graphql<Data>(CREATE, { input: { productId: gid('Product', product), rating: 5 } }, { headers });
      expect(res.body.data ?? null).toBeNull();
      expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual([code]);
    }
    expect(await liveReviewCount(product)).toBe(0);
  });

  it('lets a REVIEWS_WRITE key write, edit and delete its owner\'s reviews', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const key = await createApiKey(server, customer, ['REVIEWS_WRITE']);
    const created = await create({ productId: gid('Product', product), rating: 3 }, key.headers);
    expect(created.userErrors).toEqual([]);
    const id = created.review?.id as string;
    expect((await update({ reviewId: id, expectedVersion: 1, rating: 4 }, key.headers)).review?.rating).toBe(4);
    expect(await remove({ reviewId: id }, key.headers)).toEqual({ deletedReviewId: id, userErrors: [] });
    const restoreByKey = await server.graphql<Data>(RESTORE, { input: { reviewId: id } }, { headers: key.headers });
    expect(restoreByKey.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
  });

  it('refuses restoreReview to everyone but an admin in person', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author);
    await remove({ reviewId: review.id }, author.headers);
    for (const headers of [author.headers, seller.headers]) {
      const res = await server.graphql<Data>(RESTORE, { input: { reviewId: review.id } }, { headers });
      expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    }
    expect((await server.graphql<Data>(RESTORE, { input: { reviewId: review.id } })).body.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
    const row = await server.db.selectFrom('reviews').select('deleted_at').where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
  });

  it('shows Review.deletedAt to the author and admins only', async () => {
    const author = await createAccount(server);
    const other = await createAccount(server);
    const { review } = await reviewed(author);
    const doc = 'query ($id: ID!) { node(id: $id) { ... on Review { rating deletedAt } } }';
    for (const headers of [author.headers, admin.headers]) {
      const res = await server.graphql<Data>(doc, { id: review.id }, { headers });
      expect({ errors: res.body.errors, data: res.body.data }).toEqual({ errors: undefined, data: { node: { rating: 4, deletedAt: null } } });
    }
    const res = await server.graphql<Data>(doc, { id: review.id }, { headers: other.headers });
    expect(res.body.data).toEqual({ node: { rating: 4, deletedAt: null } });
    expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
  });
});

describe('the change feed', () => {
  let auth: AuthRuntime;
  beforeAll(async () => {
    auth = await createTestAuthRuntime();
  });
  afterAll(async () => {
    await auth.close();
  });

  it('hears of a review write once, after its commit, with the product it moved; a refused write announces nothing', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const published: Change[][] = [];
    const feed: ChangeFeed = { publish: (changes) => void published.push([...changes]) };
    const scope = jobScope({ ...testDeps(server.db, auth), changes: feed }, viewerOf(customer.user));

    const refused = await createReview(scope, { productId: product.id, rating: 9 });
    expect(summary(refused.userErrors as UserErrorOut[])).toEqual([{ field: ['input', 'rating'], code: 'OUT_OF_RANGE' }]);
    expect(published).toEqual([]);

    const created = await createReview(scope, { productId: product.id, rating: 4 });
    expect(published).toEqual([[{ entity: 'review', id: created.review?.id, productId: product.id }]]);
  });
});
