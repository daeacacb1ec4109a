import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getIntrospectionQuery } from 'graphql';

import { GRAPHQL_RESPONSE_JSON, startTestServer, type GraphQLResult, type LogLine, type TestServer } from './helpers/server.js';
import { MAX_UNKNOWN_DIRECTIVES } from '../src/limits/query-limits.js';
import { gid, seeder } from './helpers/seed.js';

let server: TestServer;
/** The same application with raised alias and depth limits, to show that cost alone also stops the abuse. */
let manyAliases: TestServer;
let productId: string;

beforeAll(async () => {
  [server, manyAliases] = await Promise.all([
    startTestServer({ captureLogs: true }),
    startTestServer({ captureLogs: true, env: { QUERY_MAX_ALIASES: '1000', QUERY_MAX_DEPTH: '100' } }),
  ]);
  productId = gid('Product', await seeder(server.db).product());
});

afterAll(async () => {
  await Promise.all([server.close(), manyAliases.close()]);
});

/** The "request completed" log line of a response. */
function requestLine(res: GraphQLResult<unknown>, on: TestServer): LogLine {
  const requestId = res.headers.get('x-request-id');
  const line = on.logs.find((l) => l['requestId'] === requestId && l.msg === 'request completed');
  if (!line) throw new Error(`no log line for request ${requestId}`);
  return line;
}

/** Refused with QUERY_TOO_COMPLEX naming the rule, before any resolver or SQL ran. */
async function expectRefused(query: string, rule: string, on: TestServer = server, variables?: object): Promise<Record<string, unknown>> {
  const res = await on.graphql(query, variables);
  expect(res.status).toBe(400);
  // First, and the only one unless graphql-js's own validation also objects (e.g. a repeated directive).
  const extensions = res.body.errors?.[0]?.extensions ?? {};
  expect(extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', rule, requestId: res.headers.get('x-request-id') });
  expect(extensions['measured']).toBeGreaterThan(extensions['limit'] as number);
  expect(res.body.data ?? null).toBeNull();
  expect(JSON.stringify(res.body)).not.toMatch(/call stack|Armor|Apollo|graphql-js/i);
  expect(requestLine(res, on)['sqlCount']).toBe(0);
  return extensions;
}

/** `products(first: n) { nodes { category { products(first: n) { ... } } } }`, `levels` deep (the issue's example). */
function nestedProducts(levels: number): string {
  let inner = 'id title';
  for (let i = 0; i < levels; i++) inner = `products(first: 100) { nodes { ${i === 0 ? inner : `category { ${inner} }`} } }`;
  return `{ ${inner} }`;
}

describe('query limits refuse abusive documents before anything runs', () => {
  it('refuses connections nested six levels deep (by depth, and by cost where depth is allowed)', async () => {
    await expectRefused(nestedProducts(6), 'depth');
    const extensions = await expectRefused(nestedProducts(6), 'cost', manyAliases);
    expect(extensions['limit']).toBe(10_000);
    expect(extensions['measured']).toBeGreaterThan(1e12);
  });

  it('refuses two nested connections of 100 by cost, within the depth limit', async () => {
    const extensions = await expectRefused(nestedProducts(2), 'cost');
    expect(extensions['measured']).toBe(1 + 100 * (1 + 1 + 1 + 100));
  });

  it('refuses a document deeper than QUERY_MAX_DEPTH', async () => {
    let inner = 'id';
    for (let i = 0; i < 8; i++) inner = `category { products(first: 1) { nodes { ${inner} } } }`;
    await expectRefused(`query ($id: ID!) { product(id: "${productId}") { ${inner} } }`.replace('($id: ID!) ', ''), 'depth');
  });

  it('refuses 101 aliases of __typename', async () => {
    const aliases = Array.from({ length: 101 }, (_, i) => `a${i}: __typename`).join(' ');
    const extensions = await expectRefused(`{ ${aliases} }`, 'aliases');
    expect(extensions).toMatchObject({ limit: 30, measured: 101 });
  });

  it('refuses directive overloading', async () => {
    await expectRefused(`{ ${'... @include(if: true) { __typename } '.repeat(50)} }`, 'directives');
  });

  it(`refuses more than ${MAX_UNKNOWN_DIRECTIVES} unknown directives with one error, before validation`, async () => {
    const unknown = (count: number) => `{ __typename ${Array.from({ length: count }, (_, i) => `@scan${i}`).join(' ')} }`;
    const extensions = await expectRefused(unknown(10), 'directives');
    expect(extensions).toMatchObject({ limit: MAX_UNKNOWN_DIRECTIVES, measured: 10 });
    const refused = await server.graphql(unknown(MAX_UNKNOWN_DIRECTIVES + 1));
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors?.[0]?.message).toMatch(/directives this schema does not define \(the first is @scan0\)/);
    // A few typos still get graphql-js's own error each.
    const typos = await server.graphql(unknown(MAX_UNKNOWN_DIRECTIVES), undefined, { headers: GRAPHQL_RESPONSE_JSON });
    expect(typos.status).toBe(400);
    expect(typos.body.errors?.map((e) => e.extensions?.['code'])).toEqual(Array(MAX_UNKNOWN_DIRECTIVES).fill('GRAPHQL_VALIDATION_FAILED'));
    // Known directives do not count, however many (QUERY_MAX_DIRECTIVES bounds them).
    const known = await server.graphql(`{ __typename ${'@include(if: true) '.repeat(MAX_UNKNOWN_DIRECTIVES + 1)}}`);
    expect(known.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(known.body.errors?.[0]?.message).toMatch(/can only be used once/);
  });

  it('refuses a document with too many tokens', async () => {
    await expectRefused(`{ __typename ${'__typename '.repeat(2500)} }`, 'tokens');
  });

  it('refuses a document over the size limit', async () => {
    await expectRefused(`{ __typename }\n#${'x'.repeat(40_000)}`, 'bytes');
  });

  it('answers 3,003 nested levels with a coded error, not an engine failure', async () => {
    const deep = `{ ${'products { nodes { '.repeat(1001)}id${' } }'.repeat(1001)} }`;
    await expectRefused(deep, 'tokens');
    const bare = `${'{a'.repeat(3003)}${'}'.repeat(3003)}`;
    await expectRefused(bare, 'tokens');
  });

  it('stops nodes(ids:) aliases from passing the 100-id cap, by cost even with a raised alias limit', async () => {
    const ids = Array.from({ length: 100 }, () => productId);
    const aliased = Array.from({ length: 101 }, (_, i) => `n${i}: nodes(ids: $ids) { id }`).join(' ');
    const query = `query ($ids: [ID!]!) { ${aliased} }`;
    await expectRefused(query, 'aliases', server, { ids });
    const extensions = await expectRefused(query, 'cost', manyAliases, { ids });
    expect(extensions['measured']).toBe(101 * 100);
  });
});

describe('query limits admit what clients send', () => {
  it('runs the README catalogue and node queries', async () => {
    const catalog = await server.graphql(
      'query Catalog($filter: ProductFilter, $orderBy: ProductOrder, $first: Int, $after: String) { products(filter: $filter, orderBy: $orderBy, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title price { amount currency } averageRating seller { displayName } category { name } } } } }',
      { filter: { inStock: true }, orderBy: { field: 'PRICE', direction: 'ASC' }, first: 2 },
    );
    expect(catalog.status).toBe(200);
    expect(catalog.body.errors).toBeUndefined();
    const node = await server.graphql(
      'query ($id: ID!) { node(id: $id) { __typename id ... on Product { title stock reviews(first: 3) { totalCount nodes { rating body author { displayName } } } } } }',
      { id: productId },
    );
    expect(node.body.errors).toBeUndefined();
    expect(node.body.data).toEqual({ node: expect.objectContaining({ id: productId }) });
  });

  it('runs the full introspection query that Sandbox and code generators send', async () => {
    const res = await server.graphql(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true }));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it('runs 100 ids through nodes(ids:) in one field', async () => {
    const res = await server.graphql('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: Array.from({ length: 100 }, () => productId) });
    expect(res.body.errors).toBeUndefined();
  });
});
