import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type LogLine, type TestServer } from './helpers/server.js';
import { seeder } from './helpers/seed.js';

/**
 * The catalog query of the foundation issue: a page of products with seller,
 * category, the first three reviews and their authors.
 */
const CATALOG = `query Catalog($first: Int!) {
  products(first: $first) {
    totalCount
    edges { node {
      id title price { amount currency }
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ captureLogs: true });
  const seed = seeder(server.db);
  const categories = await Promise.all([1, 2, 3, 4].map(() => seed.category()));
  const sellers = await Promise.all([1, 2, 3].map(() => seed.user({ role: 'SELLER' })));
  const customers = await Promise.all([1, 2, 3, 4, 5].map(() => seed.user()));
  for (let i = 0; i < 60; i += 1) {
    const product = await seed.product({ seller: sellers[i % 3], category: categories[i % 4] });
    for (let r = 0; r < i % 6; r += 1) await seed.review({ product, author: customers[r % 5], rating: 1 + (r % 5) });
  }
});

afterAll(async () => {
  await server.close();
});

/** The one "request completed" line of the request with this id. */
function requestLine(requestId: string | null): LogLine {
  const lines = server.logs.filter((l) => l['requestId'] === requestId && l.msg === 'request completed');
  expect(lines).toHaveLength(1);
  return lines[0] as LogLine;
}

describe('request log line', () => {
  it('logs one line per request with id, operation, status, duration, SQL count and SQL time', async () => {
    const res = await server.graphql(CATALOG, { first: 5 }, { operationName: 'Catalog' });
    const line = requestLine(res.headers.get('x-request-id'));
    expect(line).toMatchObject({ operationName: 'Catalog', status: 200, method: 'POST', url: '/graphql' });
    expect(line['durationMs']).toEqual(expect.any(Number));
    expect(line['sqlCount']).toEqual(expect.any(Number));
    expect(line['sqlMs']).toEqual(expect.any(Number));
  });

  it('records the error codes of a failed request', async () => {
    const res = await server.graphql('{ products(first: 500) { totalCount } }');
    expect(requestLine(res.headers.get('x-request-id'))).toMatchObject({ status: 400, errorCodes: ['BAD_USER_INPUT'] });
  });

  it('never writes a bearer token or password into the logs', async () => {
    await server.graphql('{ __typename }', { password: 'hunter22-secret' }, { headers: { authorization: 'Bearer very-secret-token' } });
    const all = JSON.stringify(server.logs);
    expect(all).not.toContain('very-secret-token');
    expect(all).not.toContain('hunter22-secret');
  });
});

describe('no N+1', () => {
  it('runs the same small number of statements for 5 and for 50 products', async () => {
    const small = await server.graphql<{ products: { edges: unknown[] } }>(CATALOG, { first: 5 });
    const large = await server.graphql<{ products: { edges: unknown[] } }>(CATALOG, { first: 50 });
    expect(small.body.errors).toBeUndefined();
    expect(large.body.data?.products.edges).toHaveLength(50);

    const smallCount = requestLine(small.headers.get('x-request-id'))['sqlCount'];
    const largeCount = requestLine(large.headers.get('x-request-id'))['sqlCount'];
    expect(largeCount).toBe(smallCount);
    // page + total + sellers + categories + reviews + review authors
    expect(largeCount).toBeLessThanOrEqual(6);
  });

  it('loads the products of many categories in one statement', async () => {
    const res = await server.graphql('{ categories { name products(first: 3) { totalCount nodes { title seller { displayName } } } } }');
    expect(res.body.errors).toBeUndefined();
    // categories + category pages + per-category counts + sellers
    expect(requestLine(res.headers.get('x-request-id'))['sqlCount']).toBe(4);
  });
});
