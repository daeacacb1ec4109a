import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { gid, missingId, seeder } from './helpers/seed.js';

interface ProductNode {
  id: string;
  title: string;
  price: { amount: number; currency: string };
  inStock: boolean;
}
interface ProductsData {
  products: { totalCount: number; nodes: ProductNode[] };
}

let server: TestServer;
let books: CategoryRow;
let garden: CategoryRow;
let alice: UserRow;
let bob: UserRow;
let novel: ProductRow;
let cookbook: ProductRow;
let lamp: ProductRow;
let draft: ProductRow;
let archived: ProductRow;
let deleted: ProductRow;

beforeAll(async () => {
  server = await startTestServer();
  const seed = seeder(server.db);
  books = await seed.category({ name: 'Books', slug: 'books' });
  garden = await seed.category({ name: 'Garden', slug: 'garden' });
  alice = await seed.user({ role: 'SELLER', displayName: 'Alice Books' });
  bob = await seed.user({ role: 'SELLER', displayName: 'Bob Garden' });
  novel = await seed.product({ seller: alice, category: books, title: 'Mystery Novel', description: 'A detective story set in Oslo.', price: 1500 });
  cookbook = await seed.product({ seller: alice, category: books, title: 'Pasta Cookbook', description: 'Fresh pasta recipes.', price: 2500 });
  lamp = await seed.product({ seller: bob, category: garden, title: 'Solar Lamp', description: 'Lights the garden path.', price: 4000 });
  await seed.product({ seller: bob, category: garden, title: 'Rare Seeds', price: 300, stock: 0 });
  draft = await seed.product({ seller: alice, category: books, title: 'Draft Novel', status: 'DRAFT' });
  archived = await seed.product({ seller: bob, category: garden, title: 'Archived Lamp', status: 'ARCHIVED' });
  deleted = await seed.product({ seller: bob, category: garden, title: 'Deleted Lamp', deleted: true });
});

afterAll(async () => {
  await server.close();
});

async function titles(filter: object, orderBy?: object): Promise<string[]> {
  const res = await server.graphql<ProductsData>(
    'query ($filter: ProductFilter, $orderBy: ProductOrder) { products(filter: $filter, orderBy: $orderBy, first: 100) { totalCount nodes { id title price { amount currency } inStock } } }',
    { filter, orderBy },
  );
  expect(res.body.errors).toBeUndefined();
  const data = res.body.data as ProductsData;
  expect(data.products.totalCount).toBe(data.products.nodes.length);
  return data.products.nodes.map((n) => n.title);
}

describe('products', () => {
  it('lists only ACTIVE, non-deleted products, newest first by default', async () => {
    expect(await titles({})).toEqual(['Rare Seeds', 'Solar Lamp', 'Pasta Cookbook', 'Mystery Novel']);
  });

  it('filters by full-text search over title and description', async () => {
    expect(await titles({ search: 'detective' })).toEqual(['Mystery Novel']);
    expect(await titles({ search: 'lamp' })).toEqual(['Solar Lamp']);
    expect(await titles({ search: 'pasta -oslo' })).toEqual(['Pasta Cookbook']);
  });

  it('filters by category, seller, price range and stock', async () => {
    expect(await titles({ categoryId: gid('Category', books) }, { field: 'TITLE', direction: 'ASC' })).toEqual([
      'Mystery Novel',
      'Pasta Cookbook',
    ]);
    expect(await titles({ sellerId: gid('User', bob) }, { field: 'PRICE', direction: 'ASC' })).toEqual(['Rare Seeds', 'Solar Lamp']);
    expect(await titles({ minPrice: 1500, maxPrice: 2500 }, { field: 'PRICE', direction: 'DESC' })).toEqual([
      'Pasta Cookbook',
      'Mystery Novel',
    ]);
    expect(await titles({ inStock: false })).toEqual(['Rare Seeds']);
    expect(await titles({ inStock: true, categoryId: gid('Category', garden) })).toEqual(['Solar Lamp']);
  });

  it('returns money as integer minor units with a currency', async () => {
    const res = await server.graphql<{ product: ProductNode }>(
      'query ($id: ID!) { product(id: $id) { id title price { amount currency } inStock } }',
      { id: gid('Product', cookbook) },
    );
    expect(res.body.data?.product).toEqual({ id: gid('Product', cookbook), title: 'Pasta Cookbook', price: { amount: 2500, currency: 'EUR' }, inStock: true });
  });

  it('hides draft, archived and deleted products from product, node and nodes', async () => {
    for (const hidden of [draft, archived, deleted]) {
      const res = await server.graphql<{ product: unknown; node: unknown; nodes: unknown[] }>(
        'query ($id: ID!) { product(id: $id) { id } node(id: $id) { id } nodes(ids: [$id]) { id } }',
        { id: gid('Product', hidden) },
      );
      expect(res.body).toMatchObject({ data: { product: null, node: null, nodes: [null] } });
      expect(res.body.errors).toBeUndefined();
    }
  });

  it('answers a missing product exactly like a hidden one', async () => {
    const res = await server.graphql('query ($id: ID!) { product(id: $id) { id } }', { id: missingId('Product') });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ product: null });
  });
});

describe('node and nodes', () => {
  it('fetches every node type by global id, in the order asked, with null for missing ones', async () => {
    const review = await seeder(server.db).review({ product: lamp, rating: 5 });
    const ids = [gid('Product', novel), gid('Category', books), gid('User', alice), gid('Review', review), missingId('Category')];
    const res = await server.graphql<{ nodes: Array<{ __typename: string; id: string } | null> }>(
      'query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }',
      { ids },
    );
    expect(res.body.data?.nodes).toEqual([
      { __typename: 'Product', id: ids[0] },
      { __typename: 'Category', id: ids[1] },
      { __typename: 'User', id: ids[2] },
      { __typename: 'Review', id: ids[3] },
      null,
    ]);
  });

  it('does not return deactivated users', async () => {
    const gone = await seeder(server.db).user({ deleted: true });
    const res = await server.graphql('query ($id: ID!) { node(id: $id) { id } }', { id: gid('User', gone) });
    expect(res.body.data).toEqual({ node: null });
  });
});

describe('relations', () => {
  it('resolves seller, category, reviews, ratings and review authors', async () => {
    const seed = seeder(server.db);
    const reader = await seed.user({ displayName: 'Reader One' });
    await seed.review({ product: novel, author: reader, rating: 5, body: 'Gripping.', createdAt: new Date('2026-01-02T00:00:00Z') });
    await seed.review({ product: novel, rating: 2, body: 'Too long.', createdAt: new Date('2026-01-01T00:00:00Z') });
    await seed.review({ product: novel, rating: 1, body: 'Deleted review.', deleted: true });

    const res = await server.graphql<{ product: unknown }>(
      `query ($id: ID!) { product(id: $id) {
          seller { id displayName } category { slug name }
          averageRating reviewCount
          reviews(first: 1) { totalCount pageInfo { hasNextPage } nodes { rating body author { displayName } } }
      } }`,
      { id: gid('Product', novel) },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.product).toEqual({
      seller: { id: gid('User', alice), displayName: 'Alice Books' },
      category: { slug: 'books', name: 'Books' },
      averageRating: 3.5,
      reviewCount: 2,
      reviews: { totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [{ rating: 5, body: 'Gripping.', author: { displayName: 'Reader One' } }] },
    });
  });

  it('lists categories by name with their visible products', async () => {
    const res = await server.graphql<{ categories: Array<{ slug: string; products: { totalCount: number; nodes: Array<{ title: string }> } }> }>(
      '{ categories { slug products(orderBy: { field: PRICE, direction: ASC }) { totalCount nodes { title } } } }',
    );
    expect(res.body.data?.categories).toEqual([
      { slug: 'books', products: { totalCount: 2, nodes: [{ title: 'Mystery Novel' }, { title: 'Pasta Cookbook' }] } },
      { slug: 'garden', products: { totalCount: 2, nodes: [{ title: 'Rare Seeds' }, { title: 'Solar Lamp' }] } },
    ]);
  });

  it('finds a category by slug and answers null for an unknown slug', async () => {
    const res = await server.graphql('{ a: categoryBySlug(slug: "garden") { name } b: categoryBySlug(slug: "nope") { name } }');
    expect(res.body.data).toEqual({ a: { name: 'Garden' }, b: null });
  });
});

describe('relations read in the page statement', () => {
  it('answers null for deactivated sellers and review authors in a product list, exactly as for a single product', async () => {
    const seed = seeder(server.db);
    const shelf = await seed.category({ name: 'Shelf', slug: 'shelf' });
    const gone = await seed.user({ role: 'SELLER', displayName: 'Gone Seller', deleted: true });
    const goneReader = await seed.user({ displayName: 'Gone Reader', deleted: true });
    const reader = await seed.user({ displayName: 'Present Reader' });
    const orphan = await seed.product({ seller: gone, category: shelf, title: 'Orphan', price: 100 });
    await seed.product({ seller: alice, category: shelf, title: 'Kept', price: 200 });
    await seed.review({ product: orphan, author: goneReader, rating: 4, createdAt: new Date('2026-01-02T00:00:00Z') });
    await seed.review({ product: orphan, author: reader, rating: 3, createdAt: new Date('2026-01-01T00:00:00Z') });
    const fields = 'title seller { displayName } category { slug } reviews(first: 5) { nodes { rating author { displayName } } }';

    const list = await server.graphql<{ products: { nodes: unknown[] } }>(
      `query ($c: ID!) { products(filter: { categoryId: $c }, orderBy: { field: PRICE, direction: ASC }) { nodes { ${fields} } } }`,
      { c: gid('Category', shelf) },
    );
    const single = await server.graphql<{ product: unknown }>(`query ($id: ID!) { product(id: $id) { ${fields} } }`, { id: gid('Product', orphan) });

    expect(list.body.errors).toBeUndefined();
    const orphanAnswer = {
      title: 'Orphan',
      seller: null,
      category: { slug: 'shelf' },
      reviews: { nodes: [{ rating: 4, author: null }, { rating: 3, author: { displayName: 'Present Reader' } }] },
    };
    expect(list.body.data?.products.nodes).toEqual([
      orphanAnswer,
      { title: 'Kept', seller: { displayName: 'Alice Books' }, category: { slug: 'shelf' }, reviews: { nodes: [] } },
    ]);
    expect(single.body.data?.product).toEqual(orphanAnswer);
  });
});
