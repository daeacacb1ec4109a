/**
 * Shared by the response-cache test files: anonymous GET reads, the cache
 * outcome read from the request's log line, writes through the API, and the
 * memory-store server with its fixtures.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';

import type { CategoryRow } from '../../src/modules/categories/category.table.js';
import type { ProductRow } from '../../src/modules/products/product.table.js';
import { createAccount, type Account } from './auth.js';
import { gid, seeder } from './seed.js';
import { startTestServer, type GraphQLResponse, type TestServer } from './server.js';

export type Data = Record<string, unknown>;

export interface ProductOut {
  id: string;
  title: string;
  stock: number;
  status: string;
  version: number;
  price: { amount: number };
  seller: { displayName: string } | null;
  category: { name: string };
}

export const PRODUCT_FIELDS = 'id title stock status version price { amount } seller { displayName } category { name }';
export const ONE = `query One($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
export const CATALOG = `query Catalog($category: ID!) { products(first: 50, filter: { categoryId: $category }, orderBy: { field: PRICE, direction: ASC }) { totalCount nodes { ${PRODUCT_FIELDS} } } }`;
export const PREFLIGHT = { 'apollo-require-preflight': 'true' };
export const METRICS_TOKEN = 'response-cache-metrics-token';
export const SHOP = 'https://shop.example.test';
export const ENV = { RESPONSE_CACHE: 'memory', LOGIN_LIMIT_PER_IP: '100000', METRICS_TOKEN, CORS_ORIGINS: SHOP };

export interface HttpResult<T> {
  status: number;
  headers: Headers;
  body: GraphQLResponse<T>;
}

/** Anonymous (unless headers say otherwise) GET /graphql with the CSRF preflight header. */
export async function get<T = Data>(server: TestServer, query: string, variables: Data = {}, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
  const res = await server.request(`/graphql?${params.toString()}`, { headers: { ...PREFLIGHT, ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as GraphQLResponse<T> };
}

/** How the cache answered a request, from its log line. */
export function cacheOutcome(server: TestServer, res: { headers: Headers }): unknown {
  const id = res.headers.get('x-request-id');
  const line = server.logs.find((l) => l.msg === 'request completed' && l['requestId'] === id);
  if (!line) throw new Error(`no log line for request ${id}`);
  return line['responseCache'];
}

export async function mutate(server: TestServer, account: Account, name: string, inputType: string, input: Data, select = `product { version }`): Promise<Data> {
  const res = await server.graphql<Data>(`mutation ($input: ${inputType}!) { ${name}(input: $input) { ${select} userErrors { code message } } }`, { input }, { headers: account.headers });
  expect(res.body.errors).toBeUndefined();
  const payload = res.body.data?.[name] as Data;
  expect(payload['userErrors']).toEqual([]);
  return payload;
}

export async function versionOf(server: TestServer, product: { id: string }): Promise<number> {
  const row = await server.db.selectFrom('products').select('version').where('id', '=', product.id).executeTakeFirstOrThrow();
  return row.version;
}

export async function updateProduct(server: TestServer, seller: Account, product: ProductRow, changes: Data): Promise<void> {
  await mutate(server, seller, 'updateProduct', 'UpdateProductInput', {
    productId: gid('Product', product),
    expectedVersion: await versionOf(server, product),
    ...changes,
  });
}

/** The memory-store server of the response-cache test files, started by `startMemoryCacheServer`, with a seller, an admin and a category. */
export let server: TestServer;
export let seller: Account;
export let admin: Account;
export let category: CategoryRow;

/** Starts the server (RESPONSE_CACHE=memory, logs captured) before the enclosing tests and closes it after them. */
export function startMemoryCacheServer(): void {
  beforeAll(async () => {
    server = await startTestServer({ env: ENV, captureLogs: true });
    [seller, admin] = await Promise.all([createAccount(server, { role: 'SELLER' }), createAccount(server, { role: 'ADMIN' })]);
    category = await seeder(server.db).category();
  });
  afterAll(async () => {
    await server.close();
  });
}
/** A fresh ACTIVE product of `seller` in a category of its own (so catalog reads are per test). */
export async function freshProduct(values: { status?: 'ACTIVE' | 'DRAFT'; price?: number } = {}): Promise<{ product: ProductRow; category: CategoryRow }> {
  const seed = seeder(server.db);
  const own = await seed.category();
  const product = await seed.product({ seller: seller.user, category: own, status: values.status ?? 'ACTIVE', price: values.price ?? 1000 });
  return { product, category: own };
}

/** Reads `query` anonymously until it is served from the cache; fails if it never is. */
export async function warm<T>(query: string, variables: Data): Promise<HttpResult<T>> {
  const first = await get<T>(server, query, variables);
  expect(first.body.errors).toBeUndefined();
  const second = await get<T>(server, query, variables);
  expect(cacheOutcome(server, second)).toBe('hit');
  expect(second.body.data).toEqual(first.body.data);
  return second;
}
