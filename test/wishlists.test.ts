/**
 * Wishlists, over HTTP on real PostgreSQL: a signed-in person saves products
 * they can see, reads them back newest first as a paginated connection,
 * removes them, and sees `viewerHasWishlisted` on any product; a product that
 * becomes invisible drops out of the list (and returns when visible again).
 * Only the person in person reads or changes their own list: not another
 * user, not an admin, not an API key, not an anonymous caller.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_EMAIL_IP: '1000', LOGIN_LIMIT_PER_IP: '100000' } });
});

afterAll(async () => {
  await server.close();
});

interface Payload {
  product: { id: string; viewerHasWishlisted: boolean } | null;
  userErrors: Array<{ field: string[] | null; code: string }>;
}

interface WishlistPage {
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

const ADD = 'mutation ($input: AddToWishlistInput!) { addToWishlist(input: $input) { product { id viewerHasWishlisted } userErrors { field code } } }';
const REMOVE = 'mutation ($input: RemoveFromWishlistInput!) { removeFromWishlist(input: $input) { product { id viewerHasWishlisted } userErrors { field code } } }';
const WISHLIST = 'query ($first: Int, $after: String) { viewer { wishlist(first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } totalCount } } }';

type Caller = { headers: Record<string, string> } | null;

async function add(caller: Caller, productId: string) {
  return server.graphql<{ addToWishlist: Payload }>(ADD, { input: { productId } }, { headers: caller?.headers ?? {} });
}

async function remove(caller: Caller, productId: string) {
  return server.graphql<{ removeFromWishlist: Payload }>(REMOVE, { input: { productId } }, { headers: caller?.headers ?? {} });
}

async function wishlistIds(account: Account): Promise<string[]> {
  const res = await server.graphql<{ viewer: { wishlist: WishlistPage } }>(WISHLIST, { first: 100 }, { headers: account.headers });
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.viewer.wishlist.nodes.map((node) => node.id) ?? [];
}

async function storedRows(account: Account): Promise<string[]> {
  const rows = await server.db.selectFrom('wishlist_items').select('product_id').where('user_id', '=', account.user.id).execute();
  return rows.map((row) => row.product_id).sort();
}

async function activeProduct() {
  const seller = await seeder(server.db).user({ role: 'SELLER' });
  return seeder(server.db).product({ seller, status: 'ACTIVE' });
}

describe('addToWishlist and removeFromWishlist', () => {
  it('saves a visible product once, however often it is added, and removes it', async () => {
    const customer = await createAccount(server);
    const product = await activeProduct();

    const first = await add(customer, gid('Product', product));
    expect(first.body.data).toEqual({ addToWishlist: { product: { id: gid('Product', product), viewerHasWishlisted: true }, userErrors: [] } });
    const again = await add(customer, gid('Product', product));
    expect(again.body.data?.addToWishlist.userErrors).toEqual([]);
    expect(await storedRows(customer)).toEqual([product.id]);

    const removed = await remove(customer, gid('Product', product));
    expect(removed.body.data).toEqual({ removeFromWishlist: { product: { id: gid('Product', product), viewerHasWishlisted: false }, userErrors: [] } });
    expect(await storedRows(customer)).toEqual([]);
    // Removing what is not there succeeds and changes nothing.
    const twice = await remove(customer, gid('Product', product));
    expect(twice.body.data?.removeFromWishlist.userErrors).toEqual([]);
  });

  it('answers NOT_FOUND for a missing product, a product the viewer cannot see and an id of another type, saving nothing', async () => {
    const customer = await createAccount(server);
    const seller = await seeder(server.db).user({ role: 'SELLER' });
    const draft = await seeder(server.db).product({ seller, status: 'DRAFT' });
    const deleted = await seeder(server.db).product({ seller, status: 'ACTIVE', deleted: true });
    for (const productId of [missingId('Product'), gid('Product', draft), gid('Product', deleted), gid('User', seller)]) {
      const res = await add(customer, productId);
      expect(res.body.data?.addToWishlist).toEqual({ product: null, userErrors: [{ field: ['input', 'productId'], code: 'NOT_FOUND' }] });
    }
    expect(await storedRows(customer)).toEqual([]);
  });

  it('lets a seller save their own draft, which they can see', async () => {
    const seller = await createAccount(server, { role: 'SELLER' });
    const draft = await seeder(server.db).product({ seller: seller.user, status: 'DRAFT' });
    expect((await add(seller, gid('Product', draft))).body.data?.addToWishlist.userErrors).toEqual([]);
    expect(await wishlistIds(seller)).toEqual([gid('Product', draft)]);
  });

  it('refuses a 501st product with OUT_OF_RANGE, and still accepts one already saved', async () => {
    const customer = await createAccount(server);
    const seller = await seeder(server.db).user({ role: 'SELLER' });
    const products = [];
    for (let i = 0; i < 501; i += 1) products.push(await seeder(server.db).product({ seller, status: 'ACTIVE' }));
    const [last, ...saved] = products.reverse();
    if (!last || !saved[0]) throw new Error('seeding failed');
    await server.db
      .insertInto('wishlist_items')
      .values(saved.map((product) => ({ user_id: customer.user.id, product_id: product.id })))
      .execute();

    const full = await add(customer, gid('Product', last));
    expect(full.body.data?.addToWishlist).toEqual({ product: null, userErrors: [{ field: ['input', 'productId'], code: 'OUT_OF_RANGE' }] });
    expect((await add(customer, gid('Product', saved[0]))).body.data?.addToWishlist.userErrors).toEqual([]);
    expect(await storedRows(customer)).toHaveLength(500);
  });
});

describe('viewer.wishlist', () => {
  it('lists saved products newest first, page by page, with the total', async () => {
    const customer = await createAccount(server);
    const products = [await activeProduct(), await activeProduct(), await activeProduct()];
    for (const product of products) expect((await add(customer, gid('Product', product))).body.data?.addToWishlist.userErrors).toEqual([]);
    const newestFirst = [...products].reverse().map((product) => gid('Product', product));

    const page1 = await server.graphql<{ viewer: { wishlist: WishlistPage } }>(WISHLIST, { first: 2 }, { headers: customer.headers });
    const first = page1.body.data?.viewer.wishlist;
    expect(first?.nodes.map((node) => node.id)).toEqual(newestFirst.slice(0, 2));
    expect(first?.pageInfo.hasNextPage).toBe(true);
    expect(first?.totalCount).toBe(3);

    const page2 = await server.graphql<{ viewer: { wishlist: WishlistPage } }>(WISHLIST, { first: 2, after: first?.pageInfo.endCursor }, { headers: customer.headers });
    expect(page2.body.data?.viewer.wishlist.nodes.map((node) => node.id)).toEqual(newestFirst.slice(2));
    expect(page2.body.data?.viewer.wishlist.pageInfo.hasNextPage).toBe(false);
  });

  it('drops a product that became invisible, and shows it again once it is visible', async () => {
    const customer = await createAccount(server);
    const kept = await activeProduct();
    const archived = await activeProduct();
    await add(customer, gid('Product', kept));
    await add(customer, gid('Product', archived));

    await server.db.updateTable('products').set({ status: 'ARCHIVED' }).where('id', '=', archived.id).execute();
    expect(await wishlistIds(customer)).toEqual([gid('Product', kept)]);
    const counted = await server.graphql<{ viewer: { wishlist: WishlistPage } }>(WISHLIST, {}, { headers: customer.headers });
    expect(counted.body.data?.viewer.wishlist.totalCount).toBe(1);

    await server.db.updateTable('products').set({ status: 'ACTIVE', deleted_at: new Date() }).where('id', '=', archived.id).execute();
    expect(await wishlistIds(customer)).toEqual([gid('Product', kept)]);

    await server.db.updateTable('products').set({ deleted_at: null }).where('id', '=', archived.id).execute();
    expect(await wishlistIds(customer)).toEqual([gid('Product', archived), gid('Product', kept)]);
  });
});

describe('Product.viewerHasWishlisted', () => {
  it('answers for the viewer on every product of a page, and false for anonymous callers and API keys', async () => {
    const customer = await createAccount(server);
    const category = await seeder(server.db).category();
    const seller = await seeder(server.db).user({ role: 'SELLER' });
    const saved = await seeder(server.db).product({ seller, category, status: 'ACTIVE' });
    const other = await seeder(server.db).product({ seller, category, status: 'ACTIVE' });
    await add(customer, gid('Product', saved));

    const query = 'query ($slug: String!) { categoryBySlug(slug: $slug) { products(first: 10) { nodes { id viewerHasWishlisted } } } }';
    const expectFlags = async (headers: Record<string, string>, flags: Record<string, boolean>) => {
      const res = await server.graphql<{ categoryBySlug: { products: { nodes: Array<{ id: string; viewerHasWishlisted: boolean }> } } }>(query, { slug: category.slug }, { headers });
      expect(res.body.errors).toBeUndefined();
      expect(Object.fromEntries(res.body.data?.categoryBySlug.products.nodes.map((node) => [node.id, node.viewerHasWishlisted]) ?? [])).toEqual(flags);
    };
    await expectFlags(customer.headers, { [gid('Product', saved)]: true, [gid('Product', other)]: false });
    await expectFlags({}, { [gid('Product', saved)]: false, [gid('Product', other)]: false });
    const key = await createApiKey(server, customer, ['CATALOG_READ']);
    await expectFlags(key.headers, { [gid('Product', saved)]: false, [gid('Product', other)]: false });
    const stranger = await createAccount(server);
    await expectFlags(stranger.headers, { [gid('Product', saved)]: false, [gid('Product', other)]: false });
  });
});

describe('who may use a wishlist (IDOR)', () => {
  it("does not show a user's wishlist to another customer, an admin or an API key of the user", async () => {
    const owner = await createAccount(server);
    const product = await activeProduct();
    await add(owner, gid('Product', product));
    const query = 'query ($id: ID!) { node(id: $id) { ... on User { id wishlist { nodes { id } } } } }';
    const variables = { id: gid('User', owner.user) };

    const stranger = await createAccount(server);
    const admin = await createAccount(server, { role: 'ADMIN' });
    const key = await createApiKey(server, owner, ['CATALOG_READ', 'ORDERS_READ', 'REVIEWS_WRITE']);
    for (const [caller, code] of [
      [stranger, 'FORBIDDEN'],
      [admin, 'FORBIDDEN'],
      [key, 'FORBIDDEN'],
    ] as const) {
      const res = await server.graphql<{ node: { id: string; wishlist: unknown } | null }>(query, variables, { headers: caller.headers });
      expect(res.body.data?.node).toEqual({ id: gid('User', owner.user), wishlist: null });
      expect(res.body.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[['node', 'wishlist'], code]]);
    }
    // The owner in person sees it.
    expect(await wishlistIds(owner)).toEqual([gid('Product', product)]);
  });

  it("changes only the caller's own list: removing a product another user saved leaves theirs alone", async () => {
    const owner = await createAccount(server);
    const other = await createAccount(server);
    const product = await activeProduct();
    await add(owner, gid('Product', product));

    const res = await remove(other, gid('Product', product));
    expect(res.body.data?.removeFromWishlist.userErrors).toEqual([]);
    expect(await storedRows(owner)).toEqual([product.id]);
    expect(await storedRows(other)).toEqual([]);
  });

  it('refuses both mutations to API keys (FORBIDDEN) and anonymous callers (UNAUTHENTICATED), writing nothing', async () => {
    const owner = await createAccount(server);
    const product = await activeProduct();
    const key = await createApiKey(server, owner, ['CATALOG_READ', 'ORDERS_READ', 'REVIEWS_WRITE']);
    for (const [caller, code] of [
      [key, 'FORBIDDEN'],
      [null, 'UNAUTHENTICATED'],
    ] as const) {
      const added = await add(caller, gid('Product', product));
      expect(added.body.data).toBeNull();
      expect(added.body.errors?.[0]?.extensions?.code).toBe(code);
      const removed = await remove(caller, gid('Product', product));
      expect(removed.body.data).toBeNull();
      expect(removed.body.errors?.[0]?.extensions?.code).toBe(code);
    }
    expect(await storedRows(owner)).toEqual([]);
  });
});
