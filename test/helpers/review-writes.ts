/**
 * Shared by the review-write test files (review-writes, review-deletes,
 * review-write-callers): the mutations, their payload shapes, and products a
 * customer received, on one server per file.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';

import type { ProductRow } from '../../src/modules/products/product.table.js';
import { createAccount, type Account } from './auth.js';
import { gid, seeder, type ProductSeed } from './seed.js';
import { startTestServer, type TestServer } from './server.js';

export type Data = Record<string, unknown>;
export type Headers = Record<string, string>;
export interface UserErrorOut {
  field: string[] | null;
  code: string;
  message: string;
  currentVersion: number | null;
}
export interface ReviewOut {
  id: string;
  rating: number;
  title: string;
  body: string;
  version: number;
}
export interface ReviewPayload {
  review: ReviewOut | null;
  userErrors: UserErrorOut[];
}

export const REVIEW_FIELDS = 'id rating title body version';
export const ERRORS = 'userErrors { field code message currentVersion }';
export const CREATE = `mutation ($input: CreateReviewInput!) { createReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
export const UPDATE = `mutation ($input: UpdateReviewInput!) { updateReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
export const DELETE = `mutation ($input: DeleteReviewInput!) { deleteReview(input: $input) { deletedReviewId ${ERRORS} } }`;
export const RESTORE = `mutation ($input: RestoreReviewInput!) { restoreReview(input: $input) { review { ${REVIEW_FIELDS} } ${ERRORS} } }`;
export const RATING = 'query ($id: ID!) { product(id: $id) { averageRating reviewCount viewerCanReview reviews(first: 100) { totalCount nodes { id } } } }';

/** The server of the review-write test files, started by `startReviewServer`; with a seller and an admin. */
export let server: TestServer;
export let seller: Account;
export let admin: Account;

export async function mutate<T = ReviewPayload>(document: string, input: Data, headers: Headers, field: string): Promise<T> {
  const res = await server.graphql<Data>(document, { input }, { headers });
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.[field] as T;
}

export const create = (input: Data, headers: Headers) => mutate(CREATE, input, headers, 'createReview');
export const update = (input: Data, headers: Headers) => mutate(UPDATE, input, headers, 'updateReview');
export const remove = (input: Data, headers: Headers) => mutate<{ deletedReviewId: string | null; userErrors: UserErrorOut[] }>(DELETE, input, headers, 'deleteReview');
export const restore = (input: Data, headers: Headers) => mutate(RESTORE, input, headers, 'restoreReview');

export function summary(errors: UserErrorOut[]) {
  return errors.map(({ field, code }) => ({ field, code }));
}

/** A product of the shared seller that `customer` received (a DELIVERED order of theirs contains it). */
export async function received(customer: Account, values: ProductSeed = {}): Promise<ProductRow> {
  const seed = seeder(server.db);
  const product = await seed.product({ seller: seller.user, ...values });
  await seed.purchase({ customer: customer.user, product });
  return product;
}

export async function productState(product: ProductRow, headers: Headers = {}) {
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

export async function liveReviewCount(product: ProductRow, authorId?: string): Promise<number> {
  let query = server.db.selectFrom('reviews').select('id').where('product_id', '=', product.id).where('deleted_at', 'is', null);
  if (authorId) query = query.where('author_id', '=', authorId);
  return (await query.execute()).length;
}

/** A review written through the API by `author`, who received a fresh product. */
export async function reviewed(author: Account, rating = 4, values: ProductSeed = {}): Promise<{ product: ProductRow; review: ReviewOut }> {
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

/** The database id behind a review's global id. */
export async function rowIdOf(review: ReviewOut): Promise<string> {
  const decoded = Buffer.from(review.id, 'base64url').toString('utf8');
  const id = decoded.slice(decoded.indexOf(':') + 1);
  const row = await server.db.selectFrom('reviews').select('id').where('id', '=', id).executeTakeFirst();
  if (!row) throw new Error(`no review row for ${review.id}`);
  return row.id;
}

/** A review of `product` by a fresh customer who received it. */
export async function reviewedOn(product: ProductRow, rating: number): Promise<{ author: Account; review: ReviewOut }> {
  const author = await createAccount(server);
  await seeder(server.db).purchase({ customer: author.user, product });
  const payload = await create({ productId: gid('Product', product), rating }, author.headers);
  if (!payload.review) throw new Error(JSON.stringify(payload.userErrors));
  return { author, review: payload.review };
}

/** Starts the server (and its seller and admin) before the file's tests and closes it after them. */
export function startReviewServer(): void {
  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
    [seller, admin] = await Promise.all([createAccount(server, { role: 'SELLER' }), createAccount(server, { role: 'ADMIN' })]);
  });
  afterAll(async () => {
    await server.close();
  });
}
