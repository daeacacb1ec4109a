import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { GRAPHQL_RESPONSE_JSON, startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';
import { gid, seeder } from './helpers/seed.js';

let server: TestServer;
let productId: string;

beforeAll(async () => {
  server = await startTestServer();
  productId = gid('Product', await seeder(server.db).product());
});

afterAll(async () => {
  await server.close();
});

function codes(body: GraphQLResponse<unknown>): unknown[] {
  return (body.errors ?? []).map((e) => e.extensions?.['code']);
}

describe('bad input gets a coded error, never a 500', () => {
  it.each([
    ['a page larger than 100', '{ products(first: 1000) { totalCount } }', 'first'],
    ['a negative page size', '{ products(last: -1) { totalCount } }', 'last'],
    ['both first and last', '{ products(first: 2, last: 2) { totalCount } }', 'last'],
    ['a malformed cursor', '{ products(after: "not-a-cursor!") { totalCount } }', 'after'],
    ['a base64 cursor that is not ours', `{ products(after: "${Buffer.from('{"x":1}').toString('base64url')}") { totalCount } }`, 'after'],
    ['a malformed global id', '{ node(id: "garbage") { id } }', 'id'],
    ['a global id of an unknown type', `{ node(id: "${Buffer.from('Secret:1').toString('base64url')}") { id } }`, 'id'],
    ['a product id of another type', `{ product(id: "${Buffer.from('Category:00000000-0000-4000-8000-000000000000').toString('base64url')}") { id } }`, 'id'],
    ['an over-long search', `{ products(filter: { search: "${'x'.repeat(201)}" }) { totalCount } }`, 'filter.search'],
    ['an inverted price range', '{ products(filter: { minPrice: 10, maxPrice: 5 }) { totalCount } }', 'filter.maxPrice'],
    ['too many ids', `{ nodes(ids: [${Array.from({ length: 101 }, () => '"x"').join(',')}]) { id } }`, 'ids'],
  ])('rejects %s with BAD_USER_INPUT naming the argument', async (_name, query, argument) => {
    const res = await server.graphql(query);
    // Nothing resolved (the only root field is null), so the status is the code's: 400.
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
  });

  it('rejects a cursor issued for another ordering', async () => {
    const byPrice = await server.graphql<{ products: { pageInfo: { endCursor: string } } }>(
      '{ products(first: 1, orderBy: { field: PRICE, direction: ASC }) { pageInfo { endCursor } } }',
    );
    const cursor = byPrice.body.data?.products.pageInfo.endCursor;
    const res = await server.graphql('query ($after: String) { products(first: 1, after: $after) { totalCount } }', { after: cursor });
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects an unknown enum value in a variable with BAD_USER_INPUT', async () => {
    const res = await server.graphql(
      'query ($o: ProductOrder) { products(orderBy: $o) { totalCount } }',
      { o: { field: 'POPULARITY', direction: 'ASC' } },
      { headers: GRAPHQL_RESPONSE_JSON },
    );
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects an unknown enum literal as a validation failure', async () => {
    const res = await server.graphql('{ products(orderBy: { field: POPULARITY, direction: ASC }) { totalCount } }', undefined, {
      headers: GRAPHQL_RESPONSE_JSON,
    });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('rejects a syntax error as GRAPHQL_PARSE_FAILED', async () => {
    const res = await server.graphql('{ products(first: ) }', undefined, { headers: GRAPHQL_RESPONSE_JSON });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('rejects a non-integer page size in a variable', async () => {
    const res = await server.graphql('query ($n: Int) { products(first: $n) { totalCount } }', { n: 'ten' }, { headers: GRAPHQL_RESPONSE_JSON });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers malformed JSON with BAD_REQUEST in the GraphQL error shape', async () => {
    const res = await server.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as GraphQLResponse<unknown>;
    expect(codes(body)).toEqual(['BAD_REQUEST']);
    expect(body.errors?.[0]?.extensions?.['requestId']).toBe(res.headers.get('x-request-id'));
  });

  it('answers an unknown route with NOT_FOUND', async () => {
    const res = await server.request('/nope');
    expect(res.status).toBe(404);
    expect(codes((await res.json()) as GraphQLResponse<unknown>)).toEqual(['NOT_FOUND']);
  });

  it('refuses a simple cross-site GET without a preflight header (CSRF prevention)', async () => {
    const res = await server.request('/graphql?query=%7B__typename%7D');
    expect(res.status).toBe(400);
  });
});

describe('request ids', () => {
  it('puts the same generated id in the X-Request-Id header and extensions.requestId', async () => {
    const res = await server.graphql('{ __typename }');
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.extensions?.['requestId']).toBe(id);
  });

  it('keeps a valid incoming X-Request-Id and replaces a hostile one', async () => {
    const kept = await server.graphql('{ __typename }', undefined, { headers: { 'x-request-id': 'client-trace-0001' } });
    expect(kept.headers.get('x-request-id')).toBe('client-trace-0001');
    expect(kept.body.extensions?.['requestId']).toBe('client-trace-0001');

    for (const hostile of ['<script>alert(1)</script>', 'a'.repeat(500), 'two words']) {
      const replaced = await server.graphql('{ __typename }', undefined, { headers: { 'x-request-id': hostile } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('puts the request id on every error', async () => {
    const res = await server.graphql('{ products(first: 1000) { totalCount } }');
    expect(res.body.errors?.[0]?.extensions?.['requestId']).toBe(res.headers.get('x-request-id'));
  });
});

describe('internal errors are masked', () => {
  it('hides database failures behind INTERNAL_SERVER_ERROR with no SQL or stack, and answers 500 when nothing resolved', async () => {
    await sql`ALTER TABLE categories RENAME TO categories_gone`.execute(server.db);
    try {
      const res = await server.graphql('{ categories { id } }');
      expect(res.status).toBe(500);
      expect(res.body.data).toEqual({ categories: null });
      expect(res.body.errors).toEqual([
        {
          message: 'An unexpected error occurred. Quote the request id when reporting it.',
          locations: [{ line: 1, column: 3 }],
          path: ['categories'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: res.headers.get('x-request-id') },
        },
      ]);
      expect(JSON.stringify(res.body)).not.toMatch(/categories_gone|relation|select|stack/i);
    } finally {
      await sql`ALTER TABLE categories_gone RENAME TO categories`.execute(server.db);
    }
  });

  it('keeps the data that did resolve next to a masked error, with status 200', async () => {
    await sql`ALTER TABLE categories RENAME TO categories_gone`.execute(server.db);
    try {
      const res = await server.graphql<{ product: { id: string } | null }>(
        'query ($id: ID!) { product(id: $id) { id } categoryBySlug(slug: "books") { id } }',
        { id: productId },
      );
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ product: { id: productId }, categoryBySlug: null });
      expect(codes(res.body)).toEqual(['INTERNAL_SERVER_ERROR']);
    } finally {
      await sql`ALTER TABLE categories_gone RENAME TO categories`.execute(server.db);
    }
  });
});
