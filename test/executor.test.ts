/**
 * graphql-jit (the default executor) answers exactly what graphql-js does:
 * the same data, the same errors (codes, messages, paths, locations, masking)
 * and the same HTTP status, for reads, denials, bad variables, missing
 * objects, failures inside resolvers and mutations. Two instances run on one
 * database, one with each executor, and every request goes to both.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { createAccount, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';

describe('graphql-jit executor', () => {
  let jit: TestServer;
  let reference: TestServer;
  let customer: Account;
  let seller: Account;
  let productId: string;
  let categoryId: string;

  beforeAll(async () => {
    jit = await startTestServer();
    reference = await startTestServer({ shareDatabaseOf: jit, env: { GRAPHQL_EXECUTOR: 'graphql-js' } });
    const seed = seeder(jit.db);
    customer = await createAccount(jit);
    seller = await createAccount(jit, { role: 'SELLER' });
    const category = await seed.category({ name: 'Books' });
    categoryId = gid('Category', category);
    for (let i = 0; i < 3; i += 1) {
      const product = await seed.product({ category, price: 1000 + i, title: `Book ${i}` });
      await seed.review({ product, rating: 3 + i });
      productId = gid('Product', product);
    }
    await seed.product({ category, status: 'DRAFT', title: 'Hidden draft' });
  });

  afterAll(async () => {
    await reference.close();
    await jit.close();
  });

  /** The response without what differs per request or per instance: request ids, the remaining cost budget. */
  function comparable(result: GraphQLResult<unknown>) {
    const text = JSON.stringify(result.body)
      .replace(/"requestId":"[^"]*"/g, '"requestId":"-"')
      .replace(/"remaining":\d+/g, '"remaining":"-"');
    return { status: result.status, cacheControl: result.headers.get('cache-control'), body: JSON.parse(text) as unknown };
  }

  async function both(query: string, variables?: object, headers: Record<string, string> = {}) {
    const [a, b] = [await jit.graphql(query, variables, { headers }), await reference.graphql(query, variables, { headers })];
    expect(comparable(a)).toEqual(comparable(b));
    return a;
  }

  it('answers the catalogue the same, nested loads and cursors included', async () => {
    const res = await both(
      `query ($first: Int!) { products(first: $first, orderBy: { field: PRICE, direction: ASC }) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { id title price { amount currency } seller { displayName } category { name }
          reviews(first: 3) { totalCount nodes { rating body author { displayName } } } } } } }`,
      { first: 2 },
    );
    expect(res.body.errors).toBeUndefined();
    expect(JSON.stringify(res.body.data)).toContain('Book 0');
  });

  it('answers a denied field the same: null with the same coded error', async () => {
    const res = await both(`query ($id: ID!) { node(id: $id) { ... on User { displayName email } } }`, { id: gid('User', seller.user) });
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    await both(`query ($id: ID!) { node(id: $id) { ... on User { email } } }`, { id: gid('User', seller.user) }, customer.headers);
  });

  it('answers bad variables and bad ids the same', async () => {
    const badVariable = await both('query ($first: Int!) { products(first: $first) { totalCount } }', { first: 'many' });
    expect(badVariable.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    await both('query ($first: Int!) { products(first: $first) { totalCount } }', {});
    await both('{ product(id: "not-an-id") { id } }');
    await both('{ products(first: 1000) { totalCount } }');
    await both(`{ product(id: "${productId}") { title reviews(first: -1) { totalCount } } }`);
  });

  it('masks a failure inside a resolver the same way', async () => {
    await sql`ALTER TABLE categories RENAME TO categories_gone_for_a_moment`.execute(jit.db);
    try {
      const res = await both('{ categories { id name } }');
      expect(res.status).toBe(500);
      expect(res.body.errors?.[0]?.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(res.body)).not.toMatch(/categories_gone|relation|SELECT/);
      await both(`{ product(id: "${productId}") { title category { name } } }`);
    } finally {
      await sql`ALTER TABLE categories_gone_for_a_moment RENAME TO categories`.execute(jit.db);
    }
  });

  it('runs mutations the same: validation errors as userErrors, refusals as errors', async () => {
    const mutation = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { title status } userErrors { field code } } }`;
    const input = { categoryId, title: '  ', price: { amount: -1, currency: 'EUR' }, stock: 1 };
    const refused = await both(mutation, { input });
    expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const invalid = await both(mutation, { input }, seller.headers);
    expect(invalid.body.data).toMatchObject({ createProduct: { product: null, userErrors: [{ field: ['input', 'title'] }, { field: ['input', 'price', 'amount'] }] } });
    await both(mutation, { input: { ...input, categoryId: 'not-an-id' } }, seller.headers);
  });
});
