/** The wishlists module: a person's own saved products, in person only (API keys never). Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { category, expect6, noUserErrors, server, type Caller, type MatrixRow } from './kit.js';

/** The caller's own saved products (the key's owner for an API key). */
async function savedBy(caller: Caller): Promise<string[]> {
  if (!caller.account) return [];
  const rows = await server.db.selectFrom('wishlist_items').select('product_id').where('user_id', '=', caller.account.user.id).execute();
  return rows.map((row) => row.product_id);
}

export const wishlistsRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Mutation.addToWishlist': {
    document: 'mutation ($input: AddToWishlistInput!) { addToWishlist(input: $input) { product { id } userErrors { field code } } }',
    arrange: async (caller) => {
      const product = await seeder(server.db).product({ category, status: 'ACTIVE' });
      return {
        variables: { input: { productId: gid('Product', product) } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await savedBy(caller)).toContain(product.id);
        },
        unchanged: async () => expect(await savedBy(caller)).not.toContain(product.id),
      };
    },
    expected: expect6('UNAUTHENTICATED', 'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.removeFromWishlist': {
    document: 'mutation ($input: RemoveFromWishlistInput!) { removeFromWishlist(input: $input) { product { id } userErrors { field code } } }',
    arrange: async (caller) => {
      const product = await seeder(server.db).product({ category, status: 'ACTIVE' });
      if (caller.account) await server.db.insertInto('wishlist_items').values({ user_id: caller.account.user.id, product_id: product.id }).execute();
      return {
        variables: { input: { productId: gid('Product', product) } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await savedBy(caller)).not.toContain(product.id);
        },
        unchanged: async () => {
          if (caller.account) expect(await savedBy(caller)).toContain(product.id);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED', 'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
