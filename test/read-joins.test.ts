/**
 * One-to-one relations read by joins where their parents load
 * (src/db/joined.ts, docs/architecture/request-path.md): the statements of a
 * request do not grow with its page sizes, aggregates run only when
 * selected, the joined records are whole (one shape never hands another a
 * record lacking a column), and visibility stays the services' call.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { toGlobalId } from '../src/graphql/global-id.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import type { UserRow } from '../src/modules/users/user.table.js';
import { createAccount, type Account } from './helpers/auth.js';
import { seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('one-to-one relations joined into their parents statements', () => {
  let server: TestServer;
  let customer: Account;
  let seller: Account;
  let category: CategoryRow;
  let products: ProductRow[];
  let draft: ProductRow;
  let gone: UserRow;

  beforeAll(async () => {
    server = await startTestServer({ captureLogs: true });
    const seed = seeder(server.db);
    customer = await createAccount(server);
    seller = await createAccount(server, { role: 'SELLER', displayName: 'Joined Seller' });
    category = await seed.category();
    products = [];
    for (let i = 0; i < 8; i += 1) products.push(await seed.product({ seller: seller.user, category, price: 100 + i }));
    gone = await seed.user({ role: 'SELLER', deleted: true });
    products.push(await seed.product({ seller: gone, category }));
    draft = await seed.product({ seller: seller.user, category, status: 'DRAFT' });
    const authors = [];
    for (let i = 0; i < 6; i += 1) authors.push(await seed.user());
    for (const author of authors) await seed.review({ product: products[0] as ProductRow, author });
    for (let i = 0; i < 7; i += 1) {
      await seed.order({
        customer: customer.user,
        items: [{ product: products[i] as ProductRow }, { product: products[i + 1] as ProductRow }, { product: draft }],
        createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
      });
    }
  });

  afterAll(async () => {
    await server.close();
  });

  const sqlCountOf = (requestId: string | null) =>
    server.logs.find((line) => line['requestId'] === requestId && line.msg === 'request completed')?.['sqlCount'];

  async function statements(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
    const res = await server.graphql<Record<string, unknown>>(query, variables, { headers });
    expect(res.body.errors).toBeUndefined();
    return { count: sqlCountOf(res.headers.get('x-request-id')), data: res.body.data };
  }

  const PRODUCT_PAGE = `query ($id: ID!, $n: Int!) { product(id: $id) {
    title seller { displayName } category { name }
    reviews(first: $n) { nodes { rating author { displayName } } }
  } }`;

  it('reads a product page in two statements, whatever the number of reviews', async () => {
    const id = toGlobalId('Product', (products[0] as ProductRow).id);
    const small = await statements(PRODUCT_PAGE, { id, n: 1 });
    const large = await statements(PRODUCT_PAGE, { id, n: 6 });
    expect(small.count).toBe(2);
    expect(large.count).toBe(2);
    const product = large.data?.['product'] as { seller: { displayName: string }; category: { name: string }; reviews: { nodes: { author: unknown }[] } };
    expect(product.seller.displayName).toBe('Joined Seller');
    expect(product.category.name).toBe(category.name);
    expect(product.reviews.nodes).toHaveLength(6);
    expect(product.reviews.nodes.every((review) => review.author !== null)).toBe(true);
  });

  it('still hides a deactivated seller read by the join', async () => {
    const res = await statements('query ($id: ID!) { product(id: $id) { seller { displayName } } }', { id: toGlobalId('Product', (products[8] as ProductRow).id) });
    expect(res.data?.['product']).toEqual({ seller: null });
  });

  const MY_ORDERS = `query ($n: Int!) { viewer { orders(first: $n) { nodes {
    status seller { displayName }
    items { title product { title seller { displayName } category { name } } }
  } } } }`;

  it("reads a customer's orders with items, products, sellers and categories in a constant number of statements", async () => {
    const small = await statements(MY_ORDERS, { n: 2 }, customer.headers);
    const large = await statements(MY_ORDERS, { n: 7 }, customer.headers);
    // Authentication (user, session), the page with its sellers, the items with their products' sellers and categories.
    expect(small.count).toBe(4);
    expect(large.count).toBe(4);
    type Orders = { viewer: { orders: { nodes: { seller: { displayName: string }; items: { title: string; product: { title: string } | null }[] }[] } } };
    const nodes = (large.data as Orders).viewer.orders.nodes;
    expect(nodes).toHaveLength(7);
    for (const order of nodes) {
      expect(order.seller.displayName).toBe('Joined Seller');
      // The draft's line keeps its snapshot; the product itself is not the customer's to see, though the statement read it.
      const line = order.items.find((item) => item.title === draft.title);
      expect(line?.product).toBeNull();
      expect(order.items.filter((item) => item.product !== null)).toHaveLength(2);
    }
  });

  it('counts orders in the page statement only when totalCount is selected, and alone for an empty page', async () => {
    const without = await statements('{ viewer { orders(first: 3) { nodes { status } } } }', {}, customer.headers);
    const withTotal = await statements('{ viewer { orders(first: 3) { totalCount nodes { status } pageInfo { endCursor } } } }', {}, customer.headers);
    expect(without.count).toBe(3);
    expect(withTotal.count).toBe(3);
    type Page = { viewer: { orders: { totalCount: number; nodes: unknown[]; pageInfo: { endCursor: string } } } };
    expect((withTotal.data as Page).viewer.orders.totalCount).toBe(7);
    const all = await statements('{ viewer { orders(first: 7) { pageInfo { endCursor } } } }', {}, customer.headers);
    const after = (all.data as Page).viewer.orders.pageInfo.endCursor;
    const empty = await statements('query ($after: String) { viewer { orders(first: 3, after: $after) { totalCount nodes { status } } } }', { after }, customer.headers);
    expect((empty.data as Page).viewer.orders).toMatchObject({ totalCount: 7, nodes: [] });
    expect(empty.count).toBe(4);
  });

  it("counts a category's products in its page statement when totalCount is selected", async () => {
    const query = `query ($slug: String!, $n: Int!) { categoryBySlug(slug: $slug) { products(first: $n) { totalCount nodes { title seller { displayName } } } } }`;
    const small = await statements(query, { slug: category.slug, n: 2 });
    const large = await statements(query, { slug: category.slug, n: 8 });
    expect(small.count).toBe(2);
    expect(large.count).toBe(2);
    type Listing = { categoryBySlug: { products: { totalCount: number; nodes: { seller: { displayName: string } | null }[] } } };
    const listing = (large.data as Listing).categoryBySlug.products;
    // Eight of the seller's ACTIVE products and one of the deactivated seller (shown without its seller); the draft is not counted.
    expect(listing.totalCount).toBe(9);
    expect(listing.nodes.filter((node) => node.seller === null)).toHaveLength(1);
  });

  it("reads a seller's sales with customers and items in a constant number of statements", async () => {
    const query = `query ($n: Int!) { viewer { sales(first: $n) { nodes { customer { displayName } items { product { title category { name } } } } } } }`;
    const small = await statements(query, { n: 1 }, seller.headers);
    const large = await statements(query, { n: 7 }, seller.headers);
    expect(small.count).toBe(4);
    expect(large.count).toBe(4);
    type Sales = { viewer: { sales: { nodes: { customer: { displayName: string }; items: { product: { title: string } | null }[] }[] } } };
    const nodes = (large.data as Sales).viewer.sales.nodes;
    expect(nodes).toHaveLength(7);
    // The seller sees their own draft as the product of a line.
    expect(nodes.every((order) => order.items.every((item) => item.product !== null))).toBe(true);
  });

  it("reads a category's products with sellers in one statement per level", async () => {
    const query = `query ($id: ID!, $n: Int!) { product(id: $id) { category { name products(first: $n) { nodes { title seller { displayName } } } } } }`;
    const id = toGlobalId('Product', (products[1] as ProductRow).id);
    const small = await statements(query, { id, n: 2 });
    const large = await statements(query, { id, n: 8 });
    expect(small.count).toBe(2);
    expect(large.count).toBe(2);
  });

  it('gives every shape of one request whole records: a joined seller and the same user read as the viewer', async () => {
    const query = `query ($id: ID!) {
      viewer { id email role displayName }
      product(id: $id) { seller { id displayName email role } }
    }`;
    const res = await statements(query, { id: toGlobalId('Product', (products[0] as ProductRow).id) }, seller.headers);
    type Data = { viewer: { email: string; role: string }; product: { seller: { email: string; role: string } } };
    const data = res.data as Data;
    expect(data.viewer.email).toBe(seller.email);
    expect(data.product.seller).toMatchObject({ email: seller.email, role: 'SELLER', displayName: 'Joined Seller' });
  });
});
