/**
 * The shared cache of anonymous query responses, over HTTP on real
 * PostgreSQL: stored responses are served, every write through the API is
 * seen on the next read (same instance, and another instance through
 * Redis), HTTP caching headers say who may keep what, and nothing a
 * signed-in caller may see reaches an anonymous one.
 *
 * Whether a response came from the cache is read from the request's log
 * line (`responseCache: hit | miss | bypass`), found by its X-Request-Id.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { documentHash } from '../src/limits/trusted-documents.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { redisAnswers, testRedisUrl, unreachableRedisUrl } from './helpers/redis.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';
import { TcpProxy, throughProxy } from './helpers/tcp-proxy.js';

type Data = Record<string, unknown>;

interface ProductOut {
  id: string;
  title: string;
  stock: number;
  status: string;
  version: number;
  price: { amount: number };
  seller: { displayName: string } | null;
  category: { name: string };
}

const PRODUCT_FIELDS = 'id title stock status version price { amount } seller { displayName } category { name }';
const ONE = `query One($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
const CATALOG = `query Catalog($category: ID!) { products(first: 50, filter: { categoryId: $category }, orderBy: { field: PRICE, direction: ASC }) { totalCount nodes { ${PRODUCT_FIELDS} } } }`;
const PREFLIGHT = { 'apollo-require-preflight': 'true' };
const METRICS_TOKEN = 'response-cache-metrics-token';
const SHOP = 'https://shop.example.test';
const ENV = { RESPONSE_CACHE: 'memory', LOGIN_LIMIT_PER_IP: '100000', METRICS_TOKEN, CORS_ORIGINS: SHOP };

interface HttpResult<T> {
  status: number;
  headers: Headers;
  body: GraphQLResponse<T>;
}

/** Anonymous (unless headers say otherwise) GET /graphql with the CSRF preflight header. */
async function get<T = Data>(server: TestServer, query: string, variables: Data = {}, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
  const res = await server.request(`/graphql?${params.toString()}`, { headers: { ...PREFLIGHT, ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as GraphQLResponse<T> };
}

/** How the cache answered a request, from its log line. */
function cacheOutcome(server: TestServer, res: { headers: Headers }): unknown {
  const id = res.headers.get('x-request-id');
  const line = server.logs.find((l) => l.msg === 'request completed' && l['requestId'] === id);
  if (!line) throw new Error(`no log line for request ${id}`);
  return line['responseCache'];
}

async function mutate(server: TestServer, account: Account, name: string, inputType: string, input: Data, select = `product { version }`): Promise<Data> {
  const res = await server.graphql<Data>(`mutation ($input: ${inputType}!) { ${name}(input: $input) { ${select} userErrors { code message } } }`, { input }, { headers: account.headers });
  expect(res.body.errors).toBeUndefined();
  const payload = res.body.data?.[name] as Data;
  expect(payload['userErrors']).toEqual([]);
  return payload;
}

async function versionOf(server: TestServer, product: { id: string }): Promise<number> {
  const row = await server.db.selectFrom('products').select('version').where('id', '=', product.id).executeTakeFirstOrThrow();
  return row.version;
}

async function updateProduct(server: TestServer, seller: Account, product: ProductRow, changes: Data): Promise<void> {
  await mutate(server, seller, 'updateProduct', 'UpdateProductInput', {
    productId: gid('Product', product),
    expectedVersion: await versionOf(server, product),
    ...changes,
  });
}

describe('response cache (memory store)', () => {
  let server: TestServer;
  let seller: Account;
  let admin: Account;
  let category: CategoryRow;

  /** A fresh ACTIVE product of `seller` in a category of its own (so catalog reads are per test). */
  async function freshProduct(values: { status?: 'ACTIVE' | 'DRAFT'; price?: number } = {}): Promise<{ product: ProductRow; category: CategoryRow }> {
    const seed = seeder(server.db);
    const own = await seed.category();
    const product = await seed.product({ seller: seller.user, category: own, status: values.status ?? 'ACTIVE', price: values.price ?? 1000 });
    return { product, category: own };
  }

  /** Reads `query` anonymously until it is served from the cache; fails if it never is. */
  async function warm<T>(query: string, variables: Data): Promise<HttpResult<T>> {
    const first = await get<T>(server, query, variables);
    expect(first.body.errors).toBeUndefined();
    const second = await get<T>(server, query, variables);
    expect(cacheOutcome(server, second)).toBe('hit');
    expect(second.body.data).toEqual(first.body.data);
    return second;
  }

  beforeAll(async () => {
    server = await startTestServer({ env: ENV, captureLogs: true });
    [seller, admin] = await Promise.all([createAccount(server, { role: 'SELLER' }), createAccount(server, { role: 'ADMIN' })]);
    category = await seeder(server.db).category();
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves a repeated anonymous query from the cache until a write through the API touches what it shows', async () => {
    const { product } = await freshProduct();
    const variables = { id: gid('Product', product) };
    const first = await get<{ product: ProductOut }>(server, ONE, variables);
    expect(cacheOutcome(server, first)).toBe('miss');
    // Behind the API's back: no change is announced, so the stored response stays.
    await server.db.updateTable('products').set({ title: 'Changed behind the API' }).where('id', '=', product.id).execute();
    const cached = await get<{ product: ProductOut }>(server, ONE, variables);
    expect(cacheOutcome(server, cached)).toBe('hit');
    expect(cached.body).toMatchObject({ data: first.body.data, extensions: { requestId: cached.headers.get('x-request-id') } });

    await updateProduct(server, seller, product, { price: { amount: 4321, currency: 'EUR' } });
    const after = await get<{ product: ProductOut }>(server, ONE, variables);
    expect(cacheOutcome(server, after)).toBe('miss');
    expect(after.body.data?.product).toMatchObject({ title: 'Changed behind the API', price: { amount: 4321 } });
  });

  it('shows a price, stock or title change on the next read, of the product and of every list that holds it', async () => {
    const { product, category: own } = await freshProduct();
    const one = { id: gid('Product', product) };
    const list = { category: gid('Category', own) };
    await warm(ONE, one);
    await warm(CATALOG, list);

    await updateProduct(server, seller, product, { stock: 0 });
    expect((await get<{ product: ProductOut }>(server, ONE, one)).body.data?.product.stock).toBe(0);
    const page = await get<{ products: { nodes: ProductOut[] } }>(server, CATALOG, list);
    expect(page.body.data?.products.nodes.map((p) => p.stock)).toEqual([0]);

    await warm(ONE, one);
    await updateProduct(server, seller, product, { title: 'Walnut desk', price: { amount: 999, currency: 'EUR' } });
    expect((await get<{ product: ProductOut }>(server, ONE, one)).body.data?.product).toMatchObject({ title: 'Walnut desk', price: { amount: 999 } });
  });

  it('drops a product from cached reads when it is archived or deleted, and brings it back when published or restored', async () => {
    const { product, category: own } = await freshProduct();
    const one = { id: gid('Product', product) };
    const list = { category: gid('Category', own) };
    const total = async () => (await get<{ products: { totalCount: number } }>(server, CATALOG, list)).body.data?.products.totalCount;
    const single = async () => (await get<{ product: ProductOut | null }>(server, ONE, one)).body.data?.product ?? null;

    await warm(ONE, one);
    await warm(CATALOG, list);
    await mutate(server, seller, 'archiveProduct', 'ArchiveProductInput', { productId: one.id });
    expect([await total(), await single()]).toEqual([0, null]);

    await warm(ONE, one);
    await warm(CATALOG, list);
    await mutate(server, seller, 'publishProduct', 'PublishProductInput', { productId: one.id });
    expect(await total()).toBe(1);
    expect(await single()).toMatchObject({ id: one.id, status: 'ACTIVE' });

    await warm(ONE, one);
    await mutate(server, seller, 'deleteProduct', 'DeleteProductInput', { productId: one.id }, 'deletedProductId');
    expect([await total(), await single()]).toEqual([0, null]);

    await warm(ONE, one);
    await warm(CATALOG, list);
    await mutate(server, admin, 'restoreProduct', 'RestoreProductInput', { productId: one.id });
    expect(await total()).toBe(1);
    expect(await single()).toMatchObject({ id: one.id });
  });

  it('adds a newly published product to cached lists', async () => {
    const { product, category: own } = await freshProduct();
    const list = { category: gid('Category', own) };
    await warm(CATALOG, list);
    const created = await mutate(
      server,
      seller,
      'createProduct',
      'CreateProductInput',
      { categoryId: list.category, title: 'Second desk', description: 'Pine.', price: { amount: 5, currency: 'EUR' }, stock: 3 },
      'product { id }',
    );
    const id = (created['product'] as { id: string }).id;
    // A DRAFT is not public: the cached page is still right, and whether it was dropped or not it must not show it.
    expect((await get<{ products: { nodes: ProductOut[] } }>(server, CATALOG, list)).body.data?.products.nodes.map((p) => p.id)).toEqual([
      gid('Product', product),
    ]);
    await warm(CATALOG, list);
    await mutate(server, seller, 'publishProduct', 'PublishProductInput', { productId: id });
    expect((await get<{ products: { nodes: ProductOut[] } }>(server, CATALOG, list)).body.data?.products.nodes.map((p) => p.id)).toEqual([
      id,
      gid('Product', product),
    ]);
  });

  it('shows a category rename on the next read of its products', async () => {
    const { product, category: own } = await freshProduct();
    const one = { id: gid('Product', product) };
    await warm(ONE, one);
    await mutate(server, admin, 'updateCategory', 'UpdateCategoryInput', { categoryId: gid('Category', own), name: 'Renamed furniture' }, 'category { name }');
    expect((await get<{ product: ProductOut }>(server, ONE, one)).body.data?.product.category.name).toBe('Renamed furniture');

    const categories = 'query Categories { categories { id name } }';
    await warm(categories, {});
    await mutate(server, admin, 'createCategory', 'CreateCategoryInput', { name: 'Garden', slug: `garden-${randomUUID().slice(0, 8)}` }, 'category { id }');
    const names = (await get<{ categories: Array<{ name: string }> }>(server, categories)).body.data?.categories.map((c) => c.name);
    expect(names).toContain('Garden');
  });

  it("shows the seller as gone on the next read once an admin deactivates the seller's account", async () => {
    const other = await createAccount(server, { role: 'SELLER', displayName: 'Short-lived shop' });
    const product = await seeder(server.db).product({ seller: other.user, category, status: 'ACTIVE' });
    const one = { id: gid('Product', product) };
    const warmed = await warm<{ product: ProductOut }>(ONE, one);
    expect(warmed.body.data?.product.seller).toEqual({ displayName: 'Short-lived shop' });
    await mutate(server, admin, 'deactivateUser', 'DeactivateUserInput', { userId: gid('User', other.user) }, 'user { id }');
    expect((await get<{ product: ProductOut }>(server, ONE, one)).body.data?.product.seller).toBeNull();
  });

  it("shows a seller's or review author's new display name to anonymous readers on the next read of the product and of the catalogue", async () => {
    const own = await seeder(server.db).category();
    const shop = await createAccount(server, { role: 'SELLER', displayName: 'Before Rename Shop' });
    const reviewer = await createAccount(server, { role: 'CUSTOMER', displayName: 'Before Rename Reviewer' });
    const product = await seeder(server.db).product({ seller: shop.user, category: own, status: 'ACTIVE' });
    await seeder(server.db).review({ product, author: reviewer.user });
    const one = { id: gid('Product', product) };
    const list = { category: gid('Category', own) };
    const withAuthors = `query Authors($id: ID!) { product(id: $id) { seller { displayName } reviews(first: 5) { nodes { author { displayName } } } } }`;
    const names = async () => [
      (await get<{ product: ProductOut }>(server, ONE, one)).body.data?.product.seller?.displayName,
      (await get<{ products: { nodes: ProductOut[] } }>(server, CATALOG, list)).body.data?.products.nodes.map((p) => p.seller?.displayName),
      (await get(server, withAuthors, one)).body.data,
    ];
    await warm(ONE, one);
    await warm(CATALOG, list);
    await warm(withAuthors, one);

    await mutate(server, shop, 'updateProfile', 'UpdateProfileInput', { displayName: 'After Rename Shop' }, 'user { displayName }');
    await mutate(server, reviewer, 'updateProfile', 'UpdateProfileInput', { displayName: 'After Rename Reviewer' }, 'user { displayName }');
    expect(await names()).toEqual([
      'After Rename Shop',
      ['After Rename Shop'],
      { product: { seller: { displayName: 'After Rename Shop' }, reviews: { nodes: [{ author: { displayName: 'After Rename Reviewer' } }] } } },
    ]);
  });

  it("shows a checkout's stock change and a new review on the next read of the product", async () => {
    const { product } = await freshProduct();
    const customer = await createAccount(server, { role: 'CUSTOMER' });
    const one = { id: gid('Product', product) };
    const withReviews = `query Reviewed($id: ID!) { product(id: $id) { stock averageRating reviewCount reviews(first: 5) { nodes { rating author { displayName } } } } }`;
    await warm(withReviews, one);

    const bought = await server.graphql<Data>(
      'mutation ($input: CheckoutInput!) { checkout(input: $input) { userErrors { code message } } }',
      { input: { items: [{ productId: one.id, quantity: 3 }] } },
      { headers: { ...customer.headers, 'idempotency-key': randomUUID() } },
    );
    expect(bought.body).toMatchObject({ data: { checkout: { userErrors: [] } } });
    expect((await get<{ product: { stock: number } }>(server, withReviews, one)).body.data?.product.stock).toBe(7);

    await seeder(server.db).purchase({ customer: customer.user, product });
    await warm(withReviews, one);
    await mutate(server, customer, 'createReview', 'CreateReviewInput', { productId: one.id, rating: 2, body: 'Wobbly.' }, 'review { id }');
    expect((await get(server, withReviews, one)).body.data).toEqual({
      product: { stock: 7, averageRating: 2, reviewCount: 1, reviews: { nodes: [{ rating: 2, author: { displayName: customer.user.display_name } }] } },
    });
  });

  it('marks anonymous GET reads public with an ETag, answers 304 for a held one, and a new ETag once the data changes', async () => {
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    // From a browser on an allowed origin: the CORS answer must stay keyed by Origin too.
    const first = await get(server, ONE, one, { origin: SHOP });
    expect(first.headers.get('cache-control')).toBe('public, max-age=0');
    expect(first.headers.get('vary')).toBe('Origin, Accept, Authorization');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);

    const hit = await get(server, ONE, one, { origin: SHOP });
    expect(cacheOutcome(server, hit)).toBe('hit');
    expect([hit.status, hit.headers.get('etag'), hit.headers.get('cache-control'), hit.headers.get('vary')]).toEqual([
      200,
      etag,
      'public, max-age=0',
      'Origin, Accept, Authorization',
    ]);
    expect(hit.headers.get('access-control-allow-origin')).toBe(SHOP);
    const notModified = await get(server, ONE, one, { 'if-none-match': etag ?? '' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);

    await updateProduct(server, seller, product, { stock: 1 });
    const changed = await get<{ product: ProductOut }>(server, ONE, one, { 'if-none-match': etag ?? '' });
    expect(changed.status).toBe(200);
    expect(changed.body.data?.product.stock).toBe(1);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('marks signed-in reads private, no-store and never stores or serves them', async () => {
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    await warm(ONE, one);
    const signedIn = await get(server, ONE, one, seller.headers);
    expect(signedIn.headers.get('cache-control')).toBe('private, no-store');
    expect(signedIn.headers.get('etag')).toBeNull();
    expect(cacheOutcome(server, signedIn)).toBe('bypass');
    const post = await server.graphql(ONE, one);
    expect(post.headers.get('cache-control')).toBe('no-store');
    expect(cacheOutcome(server, post)).toBe('hit');
  });

  it('never lets a DRAFT or private data read by its seller or an admin reach an anonymous caller', async () => {
    const { product, category: own } = await freshProduct({ status: 'DRAFT' });
    const one = { id: gid('Product', product) };
    const everything = { category: gid('Category', own) };
    for (const account of [seller, admin]) {
      const own = await get<{ product: ProductOut | null }>(server, ONE, one, account.headers);
      expect(own.body.data?.product?.status).toBe('DRAFT');
      const list = await get<{ products: { totalCount: number } }>(server, CATALOG, everything, account.headers);
      expect(list.body.errors).toBeUndefined();
    }
    for (let i = 0; i < 2; i++) {
      expect((await get<{ product: ProductOut | null }>(server, ONE, one)).body.data?.product).toBeNull();
      expect((await get<{ products: { totalCount: number } }>(server, CATALOG, everything)).body.data?.products.totalCount).toBe(0);
    }

    // An answer with an error (a private field) is never stored, so it is never served to anyone.
    const privateField = `query Private($id: ID!) { product(id: $id) { id seller { email } } }`;
    await mutate(server, seller, 'publishProduct', 'PublishProductInput', { productId: one.id });
    const bySeller = await get<{ product: { seller: { email: string | null } } }>(server, privateField, one, seller.headers);
    expect(bySeller.body.data?.product.seller.email).toBe(seller.email);
    const anonymous = [await get(server, privateField, one), await get(server, privateField, one)];
    for (const res of anonymous) {
      expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(res.body)).not.toContain(seller.email);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(cacheOutcome(server, res)).toBe('miss');
    }
  });

  it('lets a writer read its own write at once, signed in and anonymously', async () => {
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    await warm(ONE, one);
    await updateProduct(server, seller, product, { price: { amount: 77, currency: 'EUR' } });
    const own = await get<{ product: ProductOut }>(server, ONE, one, seller.headers);
    const anonymous = await get<{ product: ProductOut }>(server, ONE, one);
    expect([own.body.data?.product.price.amount, anonymous.body.data?.product.price.amount]).toEqual([77, 77]);
  });

  it('charges a hit the cost of the operation and sends the RateLimit fields', async () => {
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    const miss = await get(server, ONE, one);
    const hit = await get(server, ONE, one);
    expect(cacheOutcome(server, hit)).toBe('hit');
    const costOf = (res: HttpResult<Data>) => res.body.extensions?.['cost'] as { requested: number; actual: number; remaining: number };
    expect({ ...costOf(hit), remaining: undefined }).toEqual({ ...costOf(miss), remaining: undefined });
    expect(costOf(hit).remaining).toBe(costOf(miss).remaining - costOf(miss).actual);
    expect(hit.headers.get('ratelimit')).toBe(`"default";r=${costOf(hit).remaining};t=${/t=(\d+)/.exec(hit.headers.get('ratelimit') ?? '')?.[1]}`);
    expect(hit.headers.get('ratelimit-policy')).toBe(miss.headers.get('ratelimit-policy'));
  });

  it('counts hits, misses, stores and invalidations in /metrics', async () => {
    const events = async () => {
      const text = await (await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const count = (event: string) => Number(/\S+ (\S+)$/.exec(text.split('\n').find((l) => l.startsWith(`graphql_response_cache_events_total{event="${event}"}`)) ?? ' 0')?.[1] ?? 0);
      return { hit: count('hit'), miss: count('miss'), store: count('store'), invalidation: count('invalidation') };
    };
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    const before = await events();
    await get(server, ONE, one);
    await get(server, ONE, one);
    await updateProduct(server, seller, product, { stock: 2 });
    const after = await events();
    expect({
      hit: after.hit - before.hit,
      miss: after.miss - before.miss,
      store: after.store - before.store,
      invalidation: after.invalidation - before.invalidation,
    }).toEqual({ hit: 1, miss: 1, store: 1, invalidation: 1 });
  });

  it('serves persisted-query GET requests by hash from the cache with public headers', async () => {
    const { product } = await freshProduct();
    const one = { id: gid('Product', product) };
    const extensions = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: documentHash(ONE) } });
    await server.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: ONE, variables: one, extensions: JSON.parse(extensions) as unknown }),
    });
    const url = `/graphql?${new URLSearchParams({ extensions, variables: JSON.stringify(one) }).toString()}`;
    const byHash = await server.request(url, { headers: PREFLIGHT });
    expect(byHash.status).toBe(200);
    expect(byHash.headers.get('cache-control')).toBe('public, max-age=0');
    expect(cacheOutcome(server, byHash)).toBe('hit');
    expect(((await byHash.json()) as GraphQLResponse<{ product: ProductOut }>).data?.product.id).toBe(one.id);
  });
});

describe('response cache with Redis unreachable', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: await unreachableRedisUrl() }, captureLogs: true });
  });

  afterAll(async () => {
    await server.close();
  });

  it('keeps answering anonymous queries, uncached, with no-store', async () => {
    const product = await seeder(server.db).product({ status: 'ACTIVE', price: 321 });
    const one = { id: gid('Product', product) };
    for (let i = 0; i < 2; i++) {
      const res = await get<{ product: ProductOut }>(server, ONE, one);
      expect(res.status).toBe(200);
      expect(res.body.data?.product.price.amount).toBe(321);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(cacheOutcome(server, res)).toBe('bypass');
    }
  });
});

const redisReachable = await redisAnswers();

if (!redisReachable) {
  process.stderr.write(
    'response-cache.test: Redis did not answer PING within 500 ms; the two-instance tests (RESPONSE_CACHE=redis) are not registered. ' +
      'The memory store is per instance: a deployment of several instances needs the Redis store.\n',
  );
} else {
  describe('response cache shared by two instances (redis store)', () => {
    let a: TestServer;
    let b: TestServer;
    let seller: Account;
    let admin: Account;

    beforeAll(async () => {
      // A prefix of its own: other test files (and runs) sharing this Redis never see these entries.
      const env = { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: testRedisUrl, RESPONSE_CACHE_REDIS_PREFIX: `test-${randomUUID()}` };
      a = await startTestServer({ env, captureLogs: true });
      b = await startTestServer({ env, captureLogs: true, shareDatabaseOf: a });
      [seller, admin] = await Promise.all([createAccount(a, { role: 'SELLER' }), createAccount(a, { role: 'ADMIN' })]);
    });

    afterAll(async () => {
      await b.close();
      await a.close();
    });

    it("serves one instance's stored response from the other, and shows a write made on either on the next read of both", async () => {
      const product = await seeder(a.db).product({ seller: seller.user, status: 'ACTIVE', price: 1000 });
      const one = { id: gid('Product', product) };
      expect(cacheOutcome(a, await get(a, ONE, one))).toBe('miss');
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');

      await updateProduct(a, seller, product, { price: { amount: 1500, currency: 'EUR' } });
      const onB = await get<{ product: ProductOut }>(b, ONE, one);
      expect(onB.body.data?.product.price.amount).toBe(1500);
      expect(cacheOutcome(a, await get(a, ONE, one))).toBe('hit');

      await mutate(b, seller, 'archiveProduct', 'ArchiveProductInput', { productId: one.id });
      expect((await get<{ product: ProductOut | null }>(a, ONE, one)).body.data?.product).toBeNull();
      expect((await get<{ product: ProductOut | null }>(b, ONE, one)).body.data?.product).toBeNull();
    });

    it('applies an invalidation that failed while Redis was away before serving anything stored again', async () => {
      const redis = new URL(testRedisUrl);
      const proxy = await TcpProxy.create({ host: redis.hostname, port: Number(redis.port || 6379) });
      await proxy.forward();
      const env = { ...ENV, RESPONSE_CACHE: 'redis', REDIS_URL: throughProxy(testRedisUrl, proxy), RESPONSE_CACHE_REDIS_PREFIX: `test-${randomUUID()}` };
      const c = await startTestServer({ env, captureLogs: true, shareDatabaseOf: a });
      try {
        const product = await seeder(a.db).product({ seller: seller.user, status: 'ACTIVE', price: 100 });
        const one = { id: gid('Product', product) };
        await get(c, ONE, one);
        expect(cacheOutcome(c, await get(c, ONE, one))).toBe('hit');

        await proxy.stop();
        await updateProduct(c, seller, product, { price: { amount: 200, currency: 'EUR' } });
        // The outage is reported once, by the Redis client; the deferred invalidation is counted, not logged.
        expect(c.logs.filter((l) => Number(l['level']) >= 40).map((l) => l.msg)).toEqual([expect.stringMatching(/^Redis is unreachable/)]);
        const during = await get<{ product: ProductOut }>(c, ONE, one);
        expect([cacheOutcome(c, during), during.body.data?.product.price.amount]).toEqual(['bypass', 200]);

        await proxy.forward();
        // Until the client has reconnected, reads bypass the store; the first one that reaches it must not be the stale entry.
        let after = await get<{ product: ProductOut }>(c, ONE, one);
        for (let attempt = 0; attempt < 100 && cacheOutcome(c, after) === 'bypass'; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          after = await get<{ product: ProductOut }>(c, ONE, one);
        }
        expect([cacheOutcome(c, after), after.body.data?.product.price.amount]).toEqual(['miss', 200]);
      } finally {
        await c.close();
        await proxy.stop();
      }
    });

    it("shows a seller's new display name, changed on one instance, in the other instance's next read", async () => {
      const shop = await createAccount(a, { role: 'SELLER', displayName: 'Shared Shop Before' });
      const product = await seeder(a.db).product({ seller: shop.user, status: 'ACTIVE' });
      const one = { id: gid('Product', product) };
      await get(a, ONE, one);
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');
      await mutate(a, shop, 'updateProfile', 'UpdateProfileInput', { displayName: 'Shared Shop After' }, 'user { displayName }');
      const onB = await get<{ product: ProductOut }>(b, ONE, one);
      expect([cacheOutcome(b, onB), onB.body.data?.product.seller?.displayName]).toEqual(['miss', 'Shared Shop After']);
      expect((await get<{ product: ProductOut }>(a, ONE, one)).body.data?.product.seller?.displayName).toBe('Shared Shop After');
    });

    it('shows a category rename made on one instance in the other instance\'s next read', async () => {
      const own = await seeder(a.db).category();
      const product = await seeder(a.db).product({ seller: seller.user, category: own, status: 'ACTIVE' });
      const one = { id: gid('Product', product) };
      await get(a, ONE, one);
      expect(cacheOutcome(b, await get(b, ONE, one))).toBe('hit');
      await mutate(a, admin, 'updateCategory', 'UpdateCategoryInput', { categoryId: gid('Category', own), name: 'Shared rename' }, 'category { name }');
      expect((await get<{ product: ProductOut }>(b, ONE, one)).body.data?.product.category.name).toBe('Shared rename');
    });
  });
}
