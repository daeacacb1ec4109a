/**
 * The shared cache of anonymous query responses, over HTTP on real
 * PostgreSQL (memory store): stored responses are served, and every write
 * through the API is seen on the next read, of the object and of every list
 * that holds it. HTTP caching headers and privacy: response-cache-http.test.ts;
 * the Redis store: response-cache-redis.test.ts.
 *
 * Whether a response came from the cache is read from the request's log
 * line (`responseCache: hit | miss | bypass`), found by its X-Request-Id.
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';

import { createAccount } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { type Data, type ProductOut, ONE, CATALOG, get, cacheOutcome, mutate, updateProduct, server, seller, admin, category, startMemoryCacheServer, freshProduct, warm } from './helpers/response-cache.js';

describe('response cache (memory store)', () => {
  startMemoryCacheServer();

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
});
