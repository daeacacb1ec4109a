/**
 * `products { totalCount }` is counted in the page's own statement when the
 * client asks for it (directly, in an inline fragment or in a fragment
 * spread), and separately when the page is empty and cannot carry it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('products totalCount', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ captureLogs: true });
    const seed = seeder(server.db);
    const category = await seed.category();
    for (let i = 0; i < 5; i += 1) await seed.product({ category, price: 100 + i });
    await seed.product({ category, status: 'DRAFT' });
    await seed.product({ category, deleted: true });
  });

  afterAll(async () => {
    await server.close();
  });

  const sqlCountOf = (requestId: string | null) =>
    server.logs.find((line) => line['requestId'] === requestId && line.msg === 'request completed')?.['sqlCount'];

  type Page = { products: { totalCount: number; edges: { node: { id: string } }[]; pageInfo: { endCursor: string | null } } };

  it('counts only visible products, asked for directly or through fragments, in one statement', async () => {
    const documents = [
      '{ products(first: 2) { totalCount edges { node { id } } pageInfo { endCursor } } }',
      '{ products(first: 2) { ... on ProductConnection { totalCount } edges { node { id } } pageInfo { endCursor } } }',
      'query { products(first: 2) { ...Total edges { node { id } } pageInfo { endCursor } } } fragment Total on ProductConnection { totalCount }',
    ];
    for (const document of documents) {
      const res = await server.graphql<Page>(document);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.products.totalCount).toBe(5);
      expect(res.body.data?.products.edges).toHaveLength(2);
      expect(sqlCountOf(res.headers.get('x-request-id'))).toBe(1);
    }
  });

  it('still answers the total for an empty page past the last product', async () => {
    const all = await server.graphql<Page>('{ products(first: 5) { edges { node { id } } pageInfo { endCursor } } }');
    const after = all.body.data?.products.pageInfo.endCursor;
    const res = await server.graphql<Page>('query ($after: String) { products(first: 5, after: $after) { totalCount edges { node { id } } } }', { after });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.products.edges).toHaveLength(0);
    expect(res.body.data?.products.totalCount).toBe(5);
  });

  it('does not count when totalCount is not asked for', async () => {
    const res = await server.graphql<Page>('{ products(first: 2) { edges { node { id } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(sqlCountOf(res.headers.get('x-request-id'))).toBe(1);
  });
});
