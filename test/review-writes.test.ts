/**
 * Review mutations over HTTP on real PostgreSQL: the ABAC rule (a delivered
 * order, re-checked and locked in the write's transaction), one live review
 * per product and author (also under concurrency), validation (every problem
 * at once, the plain-text policy), optimistic locking, soft delete and
 * restore, who may do what, and the product's rating kept exact.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { inPlainTransaction } from '../src/db/unit-of-work.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createReview } from '../src/modules/reviews/review.service.js';
import type { Change, ChangeFeed } from '../src/scope/changes.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { gid, missingId, seeder, type ProductSeed } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

type Data = Record<string, unknown>;
type Headers = Record<string, string>;
interface UserErrorOut {
  field: string[] | null;
  code: string;
  message: string;
  currentVersion: number | null;
}
interface ReviewOut {
  id: string;
  rating: number;
  title: string;
  body: string;
  version: number;
}
interface ReviewPayload {
  review: ReviewOut | null;
  userErrors: UserErrorOut[];
}

const REVIEW_FIELDS = 'id rating title body version';
const ERRORS = 'userErrors { field code message currentVersion }';
const CREATE = `mutation ($input: CreateReviewInput!) { createReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
const UPDATE = `mutation ($input: UpdateReviewInput!) { updateReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
const DELETE = `mutation ($input: DeleteReviewInput!) { deleteReview(input: $input) { deletedReviewId ${ERRORS} } }`;
const RESTORE = `mutation ($input: RestoreReviewInput!) { restoreReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
const RATING = 'query ($id: ID!) { product(id: $id) { averageRating reviewCount viewerCanReview reviews(first: 100) { totalCount nodes { id } } } }';

let server: TestServer;
let seller: Account;
let admin: Account;

async function mutate<T = ReviewPayload>(document: string, input: Data, headers: Headers, field: string): Promise<T> {
  const res = await server.graphql<Data>(document, { input }, { headers });
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.[field] as T;
}

const create = (input: Data, headers: Headers) => mutate(CREATE, input, headers, 'createReview');
const update = (input: Data, headers: Headers) => mutate(UPDATE, input, headers, 'updateReview');
const remove = (input: Data, headers: Headers) => mutate<{ deletedReviewId: string | null; userErrors: UserErrorOut[] }>(DELETE, input, headers, 'deleteReview');
const restore = (input: Data, headers: Headers) => mutate(RESTORE, input, headers, 'restoreReview');

function summary(errors: UserErrorOut[]) {
  return errors.map(({ field, code }) => ({ field, code }));
}

/** A product of the shared seller that `customer` received (a DELIVERED order of theirs contains it). */
async function received(customer: Account, values: ProductSeed = {}): Promise<ProductRow> {
  const seed = seeder(server.db);
  const product = await seed.product({ seller: seller.user, ...values });
  await seed.purchase({ customer: customer.user, product });
  return product;
}

async function productState(product: ProductRow, headers: Headers = {}) {
  const res = await server.graphql<{ product: { averageRating: number | null; reviewCount: number; viewerCanReview: boolean; reviews: { totalCount: number; nodes: Array<{ id: string }> } } }>(
    RATING,
    { id: gid('Product', product) },
    { headers },
  );
  expect(res.body.errors).toBeUndefined();
  const state = res.body.data?.product;
  if (!state) throw new Error(`product ${product.id} is not visible`);
  return { averageRating: state.averageRating, reviewCount: state.reviewCount, viewerCanReview: state.viewerCanReview, ids: state.reviews.nodes.map((n) => n.id), totalCount: state.reviews.totalCount };
}

async function liveReviewCount(product: ProductRow, authorId?: string): Promise<number> {
  let query = server.db.selectFrom('reviews').select('id').where('product_id', '=', product.id).where('deleted_at', 'is', null);
  if (authorId) query = query.where('author_id', '=', authorId);
  return (await query.execute()).length;
}

/** A review written through the API by `author`, who received a fresh product. */
async function reviewed(author: Account, rating = 4, values: ProductSeed = {}): Promise<{ product: ProductRow; review: ReviewOut }> {
  const product = await received(author, values);
  const payload = await create({ productId: gid('Product', product), rating, title: 'Fine', body: 'Does the job.' }, author.headers);
  expect(payload.userErrors).toEqual([]);
  if (!payload.review) throw new Error('no review');
  return { product, review: payload.review };
}

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  [seller, admin] = await Promise.all([createAccount(server, { role: 'SELLER' }), createAccount(server, { role: 'ADMIN' })]);
});

afterAll(async () => {
  await server.close();
});

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

/** The database id behind a review's global id. */
async function rowIdOf(review: ReviewOut): Promise<string> {
  const decoded = Buffer.from(review.id, 'base64url').toString('utf8');
  const id = decoded.slice(decoded.indexOf(':') + 1);
  const row = await server.db.selectFrom('reviews').select('id').where('id', '=', id).executeTakeFirst();
  if (!row) throw new Error(`no review row for ${review.id}`);
  return row.id;
}

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

/** A review of `product` by a fresh customer who received it. */
async function reviewedOn(product: ProductRow, rating: number): Promise<{ author: Account; review: ReviewOut }> {
  const author = await createAccount(server);
  await seeder(server.db).purchase({ customer: author.user, product });
  const payload = await create({ productId: gid('Product', product), rating }, author.headers);
  if (!payload.review) throw new Error(JSON.stringify(payload.userErrors));
  return { author, review: payload.review };
}

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
