/** The shared root fields of schema/0-base.graphql: `node` and `nodes`. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid } from '../helpers/seed.js';
import { activeProduct, expect6, type MatrixRow } from './kit.js';

export const baseRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.node': {
    document: 'query ($id: ID!) { node(id: $id) { id } }',
    arrange: () => ({
      variables: { id: gid('Product', activeProduct) },
      succeeded: (node) => expect(node).toEqual({ id: gid('Product', activeProduct) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.nodes': {
    document: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    arrange: () => ({ variables: { ids: [gid('Product', activeProduct)] } }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
};
