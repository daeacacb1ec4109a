/**
 * Writing and editing reviews over HTTP on real PostgreSQL: the ABAC rule (a
 * delivered order, re-checked and locked in the write's transaction), one
 * live review per product and author (also under concurrency), validation
 * (every problem at once, the plain-text policy), optimistic locking, and
 * the product's rating kept exact. Deleting and restoring:
 * review-deletes.test.ts; who may call the writes: review-write-callers.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { inPlainTransaction } from '../src/db/unit-of-work.js';
import { createAccount } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { server, seller, admin, create, update, remove, summary, received, productState, liveReviewCount, reviewed, rowIdOf, startReviewServer, CREATE, UPDATE, type Data, type ReviewPayload } from './helpers/review-writes.js';

startReviewServer();

describe('createReview', () => {
  it('reviews a delivered product with trimmed plain text, and the product counts it at once', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    expect((await productState(product, customer.headers)).viewerCanReview).toBe(true);

    const payload = await create({ productId: gid('Product', product), rating: 5, title: '  Lovely lamp  ', body: ' Warm light.\nSturdy base. ' }, customer.headers);
    expect(payload).toEqual({
      review: { id: expect.any(String), rating: 5, title: 'Lovely lamp', body: 'Warm light.\nSturdy base.', version: 1 },
      userErrors: [],
    });
    const id = payload.review?.id as string;
    expect(await productState(product, customer.headers)).toEqual({ averageRating: 5, reviewCount: 1, viewerCanReview: false, ids: [id], totalCount: 1 });
    const row = await server.db.selectFrom('reviews').select(['author_id', 'product_id']).where('rating', '=', 5).where('product_id', '=', product.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ author_id: customer.user.id, product_id: product.id });
  });

  it('takes a rating alone: title and body default to empty', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const payload = await create({ productId: gid('Product', product), rating: 3 }, customer.headers);
    expect(payload.review).toMatchObject({ rating: 3, title: '', body: '', version: 1 });
  });

  it('reports every problem at once, with paths and codes, and writes nothing', async () => {
    const customer = await createAccount(server);
    const notReceived = await seeder(server.db).product({ seller: seller.user });
    const payload = await create(
      { productId: gid('Product', notReceived), rating: 6, title: 'Two\nlines', body: 'x'.repeat(5_001) },
      customer.headers,
    );
    expect(payload.review).toBeNull();
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'productId'], code: 'NOT_ELIGIBLE' },
      { field: ['input', 'rating'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'title'], code: 'INVALID' },
      { field: ['input', 'body'], code: 'TOO_LONG' },
    ]);
    // An id of another type is a missing product, reported next to the other problems.
    const wrongType = await create({ productId: gid('User', customer.user), rating: 0, title: 't'.repeat(121) }, customer.headers);
    expect(summary(wrongType.userErrors)).toEqual([
      { field: ['input', 'productId'], code: 'NOT_FOUND' },
      { field: ['input', 'rating'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'title'], code: 'TOO_LONG' },
    ]);
    expect(await liveReviewCount(notReceived)).toBe(0);
  });

  it('refuses markup in the title and the body as INVALID field errors, and keeps "a < b" as plain text', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const payload = await create({ productId: gid('Product', product), rating: 4, title: '<b>Great</b>', body: 'Nice <script>alert(1)</script>' }, customer.headers);
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'title'], code: 'INVALID' },
      { field: ['input', 'body'], code: 'INVALID' },
    ]);
    expect(payload.userErrors.map((e) => e.message).join(' ')).toContain('markup');
    expect(await liveReviewCount(product)).toBe(0);
    const plain = await create({ productId: gid('Product', product), rating: 4, title: 'Size 3 < size 4', body: 'I <3 it' }, customer.headers);
    expect(plain.review).toMatchObject({ title: 'Size 3 < size 4', body: 'I <3 it' });
  });

  it('never lets NUL or another control character through: BAD_USER_INPUT at the edge naming the field; a tab is fine in the body only', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    for (const [title, body, argument] of [
      ['Good\u0000', 'fine', 'input.title'],
      ['Good', 'bell\u0007', 'input.body'],
      ['Good', 'nul\u0000', 'input.body'],
    ] as const) {
      const res = await server.graphql<Data>(CREATE, { input: { productId: gid('Product', product), rating: 4, title, body } }, { headers: customer.headers });
      expect(res.body.data ?? null).toBeNull();
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    }
    const tabInTitle = await create({ productId: gid('Product', product), rating: 4, title: 'A\tB', body: 'col1\tcol2' }, customer.headers);
    expect(summary(tabInTitle.userErrors)).toEqual([{ field: ['input', 'title'], code: 'INVALID' }]);
    expect(tabInTitle.userErrors[0]?.message).toContain('control characters');
    expect(await liveReviewCount(product)).toBe(0);
  });

  it('refuses products the viewer has not received, their own products and products they cannot see', async () => {
    const customer = await createAccount(server);
    const seed = seeder(server.db);
    const shipped = await seed.product({ seller: seller.user });
    await seed.purchase({ customer: customer.user, product: shipped, status: 'SHIPPED' });
    const refunded = await seed.product({ seller: seller.user });
    await seed.purchase({ customer: customer.user, product: refunded, status: 'REFUNDED' });
    const someoneElses = await seed.product({ seller: seller.user });
    await seed.purchase({ customer: (await seed.user()), product: someoneElses });
    const draft = await received(customer, { status: 'DRAFT' });
    const deleted = await received(customer, { deleted: true });

    for (const product of [shipped, refunded, someoneElses]) {
      const payload = await create({ productId: gid('Product', product), rating: 4 }, customer.headers);
      expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'NOT_ELIGIBLE' }]);
    }
    for (const productId of [gid('Product', draft), gid('Product', deleted), missingId('Product')]) {
      const payload = await create({ productId, rating: 4 }, customer.headers);
      expect(payload.userErrors).toEqual([{ field: ['input', 'productId'], code: 'NOT_FOUND', message: 'No such product.', currentVersion: null }]);
    }
    // The seller's own product, even one they somehow received.
    const own = await seed.product({ seller: seller.user });
    await seed.purchase({ customer: seller.user, product: own });
    const selfReview = await create({ productId: gid('Product', own), rating: 5 }, seller.headers);
    expect(summary(selfReview.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'NOT_ELIGIBLE' }]);
    const rows = await server.db.selectFrom('reviews').select('id').where('product_id', 'in', [shipped.id, refunded.id, someoneElses.id, draft.id, deleted.id, own.id]).execute();
    expect(rows).toEqual([]);
  });

  it('allows one live review per product and author: a second is TAKEN, and after deleting the first a new one is accepted', async () => {
    const customer = await createAccount(server);
    const { product, review } = await reviewed(customer, 2);
    const second = await create({ productId: gid('Product', product), rating: 5 }, customer.headers);
    expect(second.review).toBeNull();
    expect(summary(second.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'TAKEN' }]);
    expect(second.userErrors[0]?.message).toMatch(/updateReview/);

    expect((await remove({ reviewId: review.id }, customer.headers)).userErrors).toEqual([]);
    const again = await create({ productId: gid('Product', product), rating: 5 }, customer.headers);
    expect(again.userErrors).toEqual([]);
    expect(await productState(product)).toMatchObject({ averageRating: 5, reviewCount: 1, ids: [again.review?.id] });
  });

  it('lets exactly one of 12 concurrent identical createReview calls through; the others are TAKEN', async () => {
    const customer = await createAccount(server);
    const product = await received(customer);
    const payloads = await Promise.all(Array.from({ length: 12 }, () => create({ productId: gid('Product', product), rating: 4, body: 'Once only.' }, customer.headers)));
    const created = payloads.filter((p) => p.review !== null);
    expect(created).toHaveLength(1);
    for (const payload of payloads.filter((p) => p.review === null)) {
      expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'TAKEN' }]);
    }
    expect(await liveReviewCount(product, customer.user.id)).toBe(1);
    expect(await productState(product)).toMatchObject({ averageRating: 4, reviewCount: 1 });
  });

  it('keeps the average and the count exact when many customers review one product at once', async () => {
    const customers = await Promise.all(Array.from({ length: 10 }, () => createAccount(server)));
    const seed = seeder(server.db);
    const product = await seed.product({ seller: seller.user });
    for (const customer of customers) await seed.purchase({ customer: customer.user, product });
    const ratings = customers.map((_c, i) => (i % 5) + 1);
    const payloads = await Promise.all(customers.map((customer, i) => create({ productId: gid('Product', product), rating: ratings[i] }, customer.headers)));
    expect(payloads.every((p) => p.userErrors.length === 0)).toBe(true);
    const mean = Math.round((ratings.reduce((a, b) => a + b, 0) / ratings.length) * 100) / 100;
    expect(await productState(product)).toMatchObject({ averageRating: mean, reviewCount: 10, totalCount: 10 });
  });

  it('re-checks the delivered order inside its transaction: a refund committing meanwhile makes it NOT_ELIGIBLE', async () => {
    const customer = await createAccount(server);
    const seed = seeder(server.db);
    const product = await seed.product({ seller: seller.user });
    const { id: orderId } = await seed.purchase({ customer: customer.user, product });

    let answer: Promise<ReviewPayload> | undefined;
    await inPlainTransaction(server.db, async (trx) => {
      // A refund in progress holds the order row; the review's eligibility check must wait for its outcome.
      await trx.updateTable('orders').set({ status: 'REFUNDED' }).where('id', '=', orderId).execute();
      answer = create({ productId: gid('Product', product), rating: 5 }, customer.headers);
      await waitForLockWaiters(1);
    });
    const payload = await (answer as Promise<ReviewPayload>);
    expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'NOT_ELIGIBLE' }]);
    expect(await liveReviewCount(product)).toBe(0);
  });
});

/** Waits until `count` backends of this database wait for a row lock (a blocked statement), without any time limit but jest's. */
async function waitForLockWaiters(count: number): Promise<void> {
  for (;;) {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(server.db);
    if ((rows[0]?.n ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('updateReview', () => {
  it('lets the author change rating, title and body; the version and the product rating follow', async () => {
    const author = await createAccount(server);
    const { product, review } = await reviewed(author, 2);
    const payload = await update({ reviewId: review.id, expectedVersion: 1, rating: 5, title: ' Better now ', body: 'Second look:\nvery good.' }, author.headers);
    expect(payload).toEqual({ review: { id: review.id, rating: 5, title: 'Better now', body: 'Second look:\nvery good.', version: 2 }, userErrors: [] });
    expect(await productState(product)).toMatchObject({ averageRating: 5, reviewCount: 1 });
    // Omitted fields keep their value; an empty string removes the title.
    const titleOnly = await update({ reviewId: review.id, expectedVersion: 2, title: '' }, author.headers);
    expect(titleOnly.review).toEqual({ id: review.id, rating: 5, title: '', body: 'Second look:\nvery good.', version: 3 });
  });

  it('reports every problem at once, with paths and codes, and changes nothing', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author, 3);
    const payload = await update({ reviewId: review.id, expectedVersion: 0, rating: 9, title: '<i>x</i>', body: 'y'.repeat(5_001) }, author.headers);
    expect(payload.review).toBeNull();
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'expectedVersion'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'rating'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'title'], code: 'INVALID' },
      { field: ['input', 'body'], code: 'TOO_LONG' },
    ]);
    const missing = await update({ reviewId: missingId('Review'), expectedVersion: 1, rating: 0 }, author.headers);
    expect(summary(missing.userErrors)).toEqual([
      { field: ['input', 'reviewId'], code: 'NOT_FOUND' },
      { field: ['input', 'rating'], code: 'OUT_OF_RANGE' },
    ]);
    const row = await server.db.selectFrom('reviews').select(['rating', 'version']).where('id', '=', (await rowIdOf(review))).executeTakeFirstOrThrow();
    expect(row).toEqual({ rating: 3, version: 1 });
  });

  it('refuses markup in a new body as INVALID at input.body and keeps the stored text', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author, 3);
    const before = await server.db.selectFrom('reviews').select(['body', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    const payload = await update({ reviewId: review.id, expectedVersion: 1, body: 'Fine.\n<a href="https://example.com">click</a>' }, author.headers);
    expect(payload.review).toBeNull();
    expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'body'], code: 'INVALID' }]);
    const row = await server.db.selectFrom('reviews').select(['body', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row).toEqual(before);
  });

  it('refuses NUL in the body at the edge, naming the field', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author);
    const res = await server.graphql<Data>(UPDATE, { input: { reviewId: review.id, expectedVersion: 1, body: 'a\u0000b' } }, { headers: author.headers });
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.body' });
  });

  it('answers a stale expectedVersion with VERSION_CONFLICT carrying the current version, and changes nothing', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author, 3);
    expect((await update({ reviewId: review.id, expectedVersion: 1, rating: 4 }, author.headers)).userErrors).toEqual([]);
    const stale = await update({ reviewId: review.id, expectedVersion: 1, rating: 1 }, author.headers);
    expect(stale).toEqual({
      review: null,
      userErrors: [{ field: ['input', 'expectedVersion'], code: 'VERSION_CONFLICT', message: expect.stringContaining('version 2'), currentVersion: 2 }],
    });
    const row = await server.db.selectFrom('reviews').select(['rating', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row).toEqual({ rating: 4, version: 2 });
  });

  it('lets exactly one of two concurrent edits with the same expectedVersion win; the other is a VERSION_CONFLICT', async () => {
    const author = await createAccount(server);
    const { review } = await reviewed(author, 3);
    const [a, b] = await Promise.all([
      update({ reviewId: review.id, expectedVersion: 1, rating: 1 }, author.headers),
      update({ reviewId: review.id, expectedVersion: 1, rating: 5 }, author.headers),
    ]);
    const winners = [a, b].filter((p) => p.review !== null);
    const losers = [a, b].filter((p) => p.review === null);
    expect(winners).toHaveLength(1);
    expect(losers.map((p) => summary(p.userErrors))).toEqual([[{ field: ['input', 'expectedVersion'], code: 'VERSION_CONFLICT' }]]);
    expect(losers[0]?.userErrors[0]?.currentVersion).toBe(2);
    const row = await server.db.selectFrom('reviews').select(['rating', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row).toEqual({ rating: winners[0]?.review?.rating, version: 2 });
  });

  it("answers anyone but the author exactly as for a missing review (admins included), and a deleted one too", async () => {
    const author = await createAccount(server);
    const other = await createAccount(server);
    const { review } = await reviewed(author, 3);
    for (const headers of [other.headers, admin.headers, seller.headers]) {
      const others = await update({ reviewId: review.id, expectedVersion: 1, rating: 1 }, headers);
      const absent = await update({ reviewId: missingId('Review'), expectedVersion: 1, rating: 1 }, headers);
      expect(others).toEqual(absent);
      expect(others).toEqual({ review: null, userErrors: [{ field: ['input', 'reviewId'], code: 'NOT_FOUND', message: 'No such review.', currentVersion: null }] });
    }
    expect((await remove({ reviewId: review.id }, author.headers)).userErrors).toEqual([]);
    const deleted = await update({ reviewId: review.id, expectedVersion: 2, rating: 1 }, author.headers);
    expect(summary(deleted.userErrors)).toEqual([{ field: ['input', 'reviewId'], code: 'NOT_FOUND' }]);
    const row = await server.db.selectFrom('reviews').select(['rating', 'version']).where('id', '=', await rowIdOf(review)).executeTakeFirstOrThrow();
    expect(row).toEqual({ rating: 3, version: 2 });
  });
});
