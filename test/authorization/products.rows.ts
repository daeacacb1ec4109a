/** The products module: catalogue reads and writes. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { activeProduct, asRecord, category, expect6, type MatrixRow, noUserErrors, server, unique } from './kit.js';

/**
 * A product write on a fresh product owned by the caller (a seller's own; for
 * other callers a product of some seller, which an admin in person may change).
 */
function productWriteRow(
  document: string,
  status: 'DRAFT' | 'ACTIVE',
  deleted: boolean,
  input: (productId: string) => Record<string, unknown>,
  after: { title?: string; status?: string; deleted?: boolean },
): MatrixRow {
  return {
    document,
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const owner = caller.name === 'seller' && caller.account ? caller.account.user : await seed.user({ role: 'SELLER' });
      const product = await seed.product({ seller: owner, category, status, deleted });
      const row = () =>
        server.db.selectFrom('products').select(['title', 'status', 'deleted_at', 'version']).where('id', '=', product.id).executeTakeFirstOrThrow();
      return {
        variables: { input: input(gid('Product', product)) },
        succeeded: async (payload) => {
          noUserErrors(payload);
          const current = await row();
          if (after.title !== undefined) expect(current.title).toBe(after.title);
          if (after.status !== undefined) expect(current.status).toBe(after.status);
          if (after.deleted !== undefined) expect(current.deleted_at !== null).toBe(after.deleted);
          expect(current.version).toBe(2);
        },
        unchanged: async () => expect((await row()).version).toBe(1),
      };
    },
    expected: expect6('UNAUTHENTICATED', 'FORBIDDEN', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN'),
  };
}

export const productsRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.products': {
    document: '{ products(first: 1) { totalCount } }',
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.product': {
    document: 'query ($id: ID!) { product(id: $id) { id } }',
    arrange: () => ({
      variables: { id: gid('Product', activeProduct) },
      succeeded: (product) => expect(product).toEqual({ id: gid('Product', activeProduct) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },

  // Catalogue writes: sellers and admins (keys need CATALOG_WRITE); which product is the service's call (own, or admin).
  'Mutation.createProduct': {
    document: 'mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id status } userErrors { field code } } }',
    arrange: () => {
      const title = `matrix product ${unique()}`;
      return {
        variables: { input: { categoryId: gid('Category', category), title, price: { amount: 100, currency: 'EUR' }, stock: 1 } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(asRecord(payload['product'], 'product')['status']).toBe('DRAFT');
        },
        unchanged: async () => {
          expect(await server.db.selectFrom('products').select('id').where('title', '=', title).execute()).toEqual([]);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateProduct': productWriteRow(
    'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { id title } userErrors { field code } } }',
    'DRAFT', false, (id) => ({ productId: id, expectedVersion: 1, title: 'Matrix edit' }), { title: 'Matrix edit' },
  ),
  'Mutation.publishProduct': productWriteRow(
    'mutation ($input: PublishProductInput!) { publishProduct(input: $input) { product { id status } userErrors { field code } } }',
    'DRAFT', false, (id) => ({ productId: id }), { status: 'ACTIVE' },
  ),
  'Mutation.archiveProduct': productWriteRow(
    'mutation ($input: ArchiveProductInput!) { archiveProduct(input: $input) { product { id status } userErrors { field code } } }',
    'ACTIVE', false, (id) => ({ productId: id }), { status: 'ARCHIVED' },
  ),
  'Mutation.deleteProduct': productWriteRow(
    'mutation ($input: DeleteProductInput!) { deleteProduct(input: $input) { deletedProductId userErrors { field code } } }',
    'ACTIVE', false, (id) => ({ productId: id }), { deleted: true },
  ),
  'Mutation.restoreProduct': productWriteRow(
    'mutation ($input: RestoreProductInput!) { restoreProduct(input: $input) { product { id } userErrors { field code } } }',
    'ACTIVE', true, (id) => ({ productId: id }), { deleted: false },
  ),

  'Subscription.productUpdated': {
    document: 'subscription ($id: ID!) { productUpdated(id: $id) { id } }',
    arrange: () => ({ variables: { id: gid('Product', activeProduct) } }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
};
