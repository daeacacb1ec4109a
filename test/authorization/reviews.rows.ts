/** The reviews module: review writes and moderation. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { activeProduct, type CallerName, category, expect6, type MatrixRow, noUserErrors, type Outcome, server } from './kit.js';

/**
 * A review write on a fresh review written by the caller (or the key's owner;
 * anonymous callers get someone else's), live or soft-deleted.
 */
function reviewWriteRow(
  document: string,
  deleted: boolean,
  input: (reviewId: string) => Record<string, unknown>,
  after: { rating?: number; deleted: boolean },
  expected: Record<CallerName, Outcome>,
): MatrixRow {
  return {
    document,
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const product = await seed.product({ category });
      const review = await seed.review({ product, author: caller.account?.user ?? (await seed.user()), rating: 4, deleted });
      const row = () => server.db.selectFrom('reviews').select(['rating', 'deleted_at', 'version']).where('id', '=', review.id).executeTakeFirstOrThrow();
      return {
        variables: { input: input(gid('Review', review)) },
        succeeded: async (payload) => {
          noUserErrors(payload);
          const current = await row();
          if (after.rating !== undefined) expect(current.rating).toBe(after.rating);
          expect(current.deleted_at !== null).toBe(after.deleted);
          expect(current.version).toBe(2);
        },
        unchanged: async () => expect(await row()).toEqual({ rating: 4, deleted_at: deleted ? expect.any(Date) : null, version: 1 }),
      };
    },
    expected,
  };
}

export const reviewsRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  // Review writes: any signed-in user (keys need REVIEWS_WRITE); which review is the service's call (the ABAC rule, the author, an admin).
  'Mutation.createReview': {
    document: 'mutation ($input: CreateReviewInput!) { createReview(input: $input) { review { id rating } userErrors { field code } } }',
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const product = await seed.product({ category });
      // The caller (or the key's owner) received it: the ABAC rule lets the call through once the shield does.
      if (caller.account) await seed.purchase({ customer: caller.account.user, product });
      const reviews = () => server.db.selectFrom('reviews').select('rating').where('product_id', '=', product.id).execute();
      return {
        variables: { input: { productId: gid('Product', product), rating: 5 } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await reviews()).toEqual([{ rating: 5 }]);
        },
        unchanged: async () => expect(await reviews()).toEqual([]),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateReview': reviewWriteRow(
    'mutation ($input: UpdateReviewInput!) { updateReview(input: $input) { review { id rating } userErrors { field code } } }',
    false, (id) => ({ reviewId: id, expectedVersion: 1, rating: 1 }), { rating: 1, deleted: false },
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
  'Mutation.deleteReview': reviewWriteRow(
    'mutation ($input: DeleteReviewInput!) { deleteReview(input: $input) { deletedReviewId userErrors { field code } } }',
    false, (id) => ({ reviewId: id }), { deleted: true },
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
  // Moderation: admins in person only.
  'Mutation.restoreReview': reviewWriteRow(
    'mutation ($input: RestoreReviewInput!) { restoreReview(input: $input) { review { id } userErrors { field code } } }',
    true, (id) => ({ reviewId: id }), { deleted: false },
    expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
  'Subscription.reviewAdded': {
    document: 'subscription ($id: ID!) { reviewAdded(productId: $id) { id } }',
    arrange: () => ({ variables: { id: gid('Product', activeProduct) } }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
};
