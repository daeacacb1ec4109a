/**
 * The shared response cache at the HTTP edge (memory store): caching headers
 * say who may keep what (public with an ETag, 304, private no-store),
 * nothing a signed-in caller may see reaches an anonymous one, a hit costs
 * what running it would, /metrics counts, and persisted queries by hash.
 *
 * Whether a response came from the cache is read from the request's log
 * line (`responseCache: hit | miss | bypass`), found by its X-Request-Id.
 */
import { describe, expect, it } from '@jest/globals';

import { documentHash } from '../src/limits/trusted-documents.js';
import { gid } from './helpers/seed.js';
import { type GraphQLResponse } from './helpers/server.js';
import { type Data, type ProductOut, ONE, CATALOG, PREFLIGHT, METRICS_TOKEN, SHOP, type HttpResult, get, cacheOutcome, mutate, updateProduct, server, seller, admin, startMemoryCacheServer, freshProduct, warm } from './helpers/response-cache.js';

describe('response cache (memory store): HTTP and privacy', () => {
  startMemoryCacheServer();

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
