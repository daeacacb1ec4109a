/** The categories module: public reads, admin writes. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { category, expect6, type MatrixRow, noUserErrors, server, unique } from './kit.js';

export const categoriesRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.categories': {
    document: '{ categories { id } }',
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.categoryBySlug': {
    document: 'query ($slug: String!) { categoryBySlug(slug: $slug) { id } }',
    arrange: () => ({
      variables: { slug: category.slug },
      succeeded: (found) => expect(found).toEqual({ id: gid('Category', category) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  // Categories: admins in person only.
  'Mutation.createCategory': {
    document: 'mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { category { id } userErrors { field code } } }',
    arrange: () => {
      const slug = `matrix-${unique()}`.toLowerCase();
      return {
        variables: { input: { name: 'Matrix', slug } },
        succeeded: noUserErrors,
        unchanged: async () => expect(await server.db.selectFrom('categories').select('id').where('slug', '=', slug).execute()).toEqual([]),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateCategory': {
    document: 'mutation ($input: UpdateCategoryInput!) { updateCategory(input: $input) { category { name } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).category();
      return {
        variables: { input: { categoryId: gid('Category', target), name: 'Renamed by matrix' } },
        succeeded: (payload) => expect(payload).toEqual({ category: { name: 'Renamed by matrix' }, userErrors: [] }),
        unchanged: async () => expect((await server.db.selectFrom('categories').select('name').where('id', '=', target.id).executeTakeFirstOrThrow()).name).toBe(target.name),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.deleteCategory': {
    document: 'mutation ($input: DeleteCategoryInput!) { deleteCategory(input: $input) { deletedCategoryId userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).category();
      const remaining = () => server.db.selectFrom('categories').select('id').where('id', '=', target.id).execute();
      return {
        variables: { input: { categoryId: gid('Category', target) } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ deletedCategoryId: gid('Category', target), userErrors: [] });
          expect(await remaining()).toEqual([]);
        },
        unchanged: async () => expect(await remaining()).toHaveLength(1),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

};
