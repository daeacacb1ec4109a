/**
 * Soft-deleting and restoring reviews over HTTP on real PostgreSQL: where a
 * deleted review stops showing, who may delete and restore, versions, one
 * live review per product and author on restore (also when restores race),
 * and the product's rating kept exact.
 */
import { describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey } from './helpers/auth.js';
import { gid, missingId } from './helpers/seed.js';
import { server, seller, admin, create, remove, restore, summary, productState, liveReviewCount, reviewed, rowIdOf, reviewedOn, startReviewServer, type Data } from './helpers/review-writes.js';

startReviewServer();

const READS = `query ($id: ID!, $productId: ID!, $slug: String!) {
  node(id: $id) { id }
  nodes(ids: [$id]) { id }
  product(id: $productId) { reviewCount averageRating reviews(first: 10) { totalCount nodes { id } } }
  categoryBySlug(slug: $slug) { products(first: 10) { nodes { reviews(first: 10) { nodes { id } } } } }
}`;

describe('deleteReview and restoreReview', () => {
  it('soft-deletes the author\'s review: it vanishes from node, nodes, product.reviews and nested lists, and leaves the rating', async () => {
    const author = await createAccount(server);
    const other = await createAccount(server);
    const { product, review } = await reviewed(author, 1);
    const { review: kept } = await reviewedOn(product, 5);

    const { slug } = await server.db.selectFrom('categories').select('slug').where('id', '=', product.category_id).executeTakeFirstOrThrow();
    // Positive control: before the delete, every path shows it.
    const before = await server.graphql<Data>(READS, { id: review.id, productId: gid('Product', product), slug }, { headers: other.headers });
    expect(before.body.data).toMatchObject({ node: { id: review.id }, nodes: [{ id: review.id }], product: { reviewCount: 2, averageRating: 3 } });
    expect(JSON.stringify(before.body.data?.['categoryBySlug'])).toContain(review.id);

    const payload = await remove({ reviewId: review.id, expectedVersion: 1 }, author.headers);
    expect(payload).toEqual({ deletedReviewId: review.id, userErrors: [] });
    for (const headers of [{}, author.headers, other.headers, seller.headers, admin.headers]) {
      const res = await server.graphql<Data>(READS, { id: review.id, productId: gid('Product', product), slug }, { headers });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.['node']).toBeNull();
      expect(res.body.data?.['nodes']).toEqual([null]);
      expect(res.body.data?.['product']).toEqual({ reviewCount: 1, averageRating: 5, reviews: { totalCount: 1, nodes: [{ id: kept.id }] } });
      expect(res.body.data?.['categoryBySlug']).toEqual({ products: { nodes: [{ reviews: { nodes: [{ id: kept.id }] } }] } });
    }
    const row = await server.db.selectFrom('reviews').select(['deleted_at', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
    expect(row.version).toBe(2);
    const audit = await server.db.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', await rowIdOf(review)).execute();
    expect(audit).toEqual([{ action: 'REVIEW_DELETED', actor_id: author.user.id }]);
  });

  it('lets an admin delete anyone\'s review, but not with an API key; other users get NOT_FOUND as for a missing id', async () => {
    const author = await createAccount(server);
    const other = await createAccount(server);
    const { review } = await reviewed(author);
    const adminKey = await createApiKey(server, admin, ['CATALOG_READ', 'REVIEWS_WRITE']);
    for (const headers of [other.headers, seller.headers, adminKey.headers]) {
      const others = await remove({ reviewId: review.id }, headers);
      const absent = await remove({ reviewId: missingId('Review') }, headers);
      expect(others).toEqual(absent);
      expect(others).toEqual({ deletedReviewId: null, userErrors: [{ field: ['input', 'reviewId'], code: 'NOT_FOUND', message: 'No such review.', currentVersion: null }] });
    }
    expect(await remove({ reviewId: review.id }, admin.headers)).toEqual({ deletedReviewId: review.id, userErrors: [] });
    // Deleting twice: the review is gone.
    expect(summary((await remove({ reviewId: review.id }, admin.headers)).userErrors)).toEqual([{ field: ['input', 'reviewId'], code: 'NOT_FOUND' }]);
  });

  it('reports a stale or invalid expectedVersion of deleteReview, and deletes nothing', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author);
    const stale = await remove({ reviewId: review.id, expectedVersion: 7 }, author.headers);
    expect(stale.userErrors).toEqual([{ field: ['input', 'expectedVersion'], code: 'VERSION_CONFLICT', message: expect.any(String), currentVersion: 1 }]);
    const invalid = await remove({ reviewId: gid('Product', { id: await rowIdOf(review) }), expectedVersion: -1 }, author.headers);
    expect(summary(invalid.userErrors)).toEqual([
      { field: ['input', 'reviewId'], code: 'NOT_FOUND' },
      { field: ['input', 'expectedVersion'], code: 'OUT_OF_RANGE' },
    ]);
    const row = await server.db.selectFrom('reviews').select('deleted_at').where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row.deleted_at).toBeNull();
  });

  it('lets admins list deleted reviews of a product with their deletion time, and restore one cleanly', async () => {
    const author = await createAccount(server);
    const { product, review } = await reviewed(author, 2);
    await remove({ reviewId: review.id }, author.headers);
    const DELETED = 'query ($id: ID!) { product(id: $id) { reviewCount deletedReviews(first: 10) { totalCount nodes { id rating deletedAt } } } }';

    const listed = await server.graphql<Data>(DELETED, { id: gid('Product', product) }, { headers: admin.headers });
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data).toEqual({ product: { reviewCount: 0, deletedReviews: { totalCount: 1, nodes: [{ id: review.id, rating: 2, deletedAt: expect.any(String) }] } } });
    for (const headers of [author.headers, seller.headers]) {
      const refused = await server.graphql<Data>(DELETED, { id: gid('Product', product) }, { headers });
      expect(refused.body.data).toEqual({ product: { reviewCount: 0, deletedReviews: null } });
      expect(refused.body.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[['product', 'deletedReviews'], 'FORBIDDEN']]);
    }

    const restored = await restore({ reviewId: review.id }, admin.headers);
    expect(restored).toEqual({ review: { ...review, version: 3 }, userErrors: [] });
    expect(await productState(product, author.headers)).toEqual({ averageRating: 2, reviewCount: 1, viewerCanReview: false, ids: [review.id], totalCount: 1 });
    const node = await server.graphql<Data>('query ($id: ID!) { node(id: $id) { id ... on Review { deletedAt } } }', { id: review.id }, { headers: author.headers });
    expect(node.body.data).toEqual({ node: { id: review.id, deletedAt: null } });
    const audit = await server.db.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', await rowIdOf(review)).orderBy('occurred_at').execute();
    expect(audit).toEqual([
      { action: 'REVIEW_DELETED', actor_id: author.user.id },
      { action: 'REVIEW_RESTORED', actor_id: admin.user.id },
    ]);
  });

  it('refuses to restore a review whose author has written a new live one (TAKEN), and a live or missing review (NOT_FOUND)', async () => {
    const author = await createAccount(server);
    const { product, review } = await reviewed(author, 2);
    await remove({ reviewId: review.id }, author.headers);
    const replacement = await create({ productId: gid('Product', product), rating: 4 }, author.headers);
    expect(replacement.userErrors).toEqual([]);

    const refused = await restore({ reviewId: review.id }, admin.headers);
    expect(refused.review).toBeNull();
    expect(summary(refused.userErrors)).toEqual([{ field: ['input', 'reviewId'], code: 'TAKEN' }]);
    expect(await liveReviewCount(product, author.user.id)).toBe(1);
    expect(await productState(product)).toMatchObject({ averageRating: 4, reviewCount: 1 });

    for (const reviewId of [replacement.review?.id as string, missingId('Review'), gid('Product', product)]) {
      expect(summary((await restore({ reviewId }, admin.headers)).userErrors)).toEqual([{ field: ['input', 'reviewId'], code: 'NOT_FOUND' }]);
    }
  });

  it('restores at most one of two deleted reviews of one author and product, even when both restores race', async () => {
    const author = await createAccount(server);
    const { product, review: first } = await reviewed(author, 1);
    await remove({ reviewId: first.id }, author.headers);
    const second = await create({ productId: gid('Product', product), rating: 5 }, author.headers);
    await remove({ reviewId: second.review?.id }, author.headers);
    const results = await Promise.all([restore({ reviewId: first.id }, admin.headers), restore({ reviewId: second.review?.id }, admin.headers)]);
    expect(results.filter((r) => r.review !== null)).toHaveLength(1);
    expect(results.filter((r) => r.review === null).map((r) => summary(r.userErrors))).toEqual([[{ field: ['input', 'reviewId'], code: 'TAKEN' }]]);
    expect(await liveReviewCount(product, author.user.id)).toBe(1);
  });
});
