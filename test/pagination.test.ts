import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type TestServer } from './helpers/server.js';
import { gid, seeder } from './helpers/seed.js';

interface Page {
  edges: Array<{ cursor: string; node: { id: string; title: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

const QUERY = `query ($orderBy: ProductOrder, $first: Int, $after: String, $last: Int, $before: String) {
  products(orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

const SORTS = ['CREATED_AT', 'PRICE', 'TITLE', 'RATING'] as const;
const DIRECTIONS = ['ASC', 'DESC'] as const;
const PAGE = 4;

let server: TestServer;
let visibleIds: Set<string>;

beforeAll(async () => {
  server = await startTestServer();
  const seed = seeder(server.db);
  const seller = await seed.user({ role: 'SELLER' });
  const category = await seed.category();
  const reviewers = await Promise.all([1, 2, 3].map(() => seed.user()));
  // 23 visible products with many ties in every sort key (same instant, same
  // price, same title, same rating), so order depends on the id tiebreaker.
  const sameInstant = new Date('2026-06-01T12:00:00.123456Z');
  visibleIds = new Set();
  for (let i = 0; i < 23; i += 1) {
    const product = await seed.product({
      seller,
      category,
      title: ['Alpha', 'Beta', 'Gamma'][i % 3],
      price: [500, 900, 900, 1200][i % 4],
      createdAt: i % 5 === 0 ? sameInstant : new Date(Date.UTC(2026, 0, 1 + i)),
    });
    visibleIds.add(gid('Product', product));
    for (let r = 0; r < i % 4; r += 1) {
      await seed.review({ product, author: reviewers[r], rating: 1 + ((i + r) % 5) });
    }
  }
  // Invisible rows must never appear.
  await seed.product({ seller, category, status: 'DRAFT' });
  await seed.product({ seller, category, deleted: true });
});

afterAll(async () => {
  await server.close();
});

async function page(variables: Record<string, unknown>): Promise<Page> {
  const res = await server.graphql<{ products: Page }>(QUERY, variables);
  expect(res.body.errors).toBeUndefined();
  return (res.body.data as { products: Page }).products;
}

/** Node ids of the whole list in the server's order, read in one page. */
async function fullOrder(orderBy: object): Promise<string[]> {
  const all = await page({ orderBy, first: 100 });
  return all.edges.map((e) => e.node.id);
}

describe.each(SORTS)('keyset pagination by %s', (field) => {
  it.each(DIRECTIONS)('walks every page forward and backward (%s) and sees each visible product exactly once, in order', async (direction) => {
    const orderBy = { field, direction };
    const expected = await fullOrder(orderBy);
    expect(new Set(expected)).toEqual(visibleIds);
    expect(expected).toHaveLength(visibleIds.size);

    const forward: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 20; guard += 1) {
      const p: Page = await page({ orderBy, first: PAGE, after });
      expect(p.totalCount).toBe(visibleIds.size);
      forward.push(...p.edges.map((e) => e.node.id));
      expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    expect(forward).toEqual(expected);

    const backward: string[] = [];
    let before: string | null = null;
    for (let guard = 0; guard < 20; guard += 1) {
      const p: Page = await page({ orderBy, last: PAGE, before });
      backward.unshift(...p.edges.map((e) => e.node.id));
      expect(p.pageInfo.startCursor).toBe(p.edges[0]?.cursor ?? null);
      if (!p.pageInfo.hasPreviousPage) break;
      before = p.pageInfo.startCursor;
    }
    expect(backward).toEqual(expected);
  });
});

describe('cursor stability', () => {
  it('continues after a cursor without duplicates when rows are inserted before it', async () => {
    const orderBy = { field: 'CREATED_AT', direction: 'DESC' };
    const first = await page({ orderBy, first: 5 });
    // A new product sorts first (newest); the next page must not repeat or skip anything.
    const seed = seeder(server.db);
    const extra = await seed.product({ createdAt: new Date('2030-01-01T00:00:00Z') });
    const second = await page({ orderBy, first: 5, after: first.pageInfo.endCursor });
    const expected = (await fullOrder(orderBy)).filter((id) => id !== gid('Product', extra));
    expect([...first.edges, ...second.edges].map((e) => e.node.id)).toEqual(expected.slice(0, 10));
    await server.db.deleteFrom('products').where('id', '=', extra.id).execute();
  });

  it('returns an empty page with first: 0 and reports whether items exist', async () => {
    const p = await page({ first: 0 });
    expect(p.edges).toEqual([]);
    expect(p.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null });
  });

  it('defaults to 20 items per page', async () => {
    const p = await page({});
    expect(p.edges).toHaveLength(20);
    expect(p.pageInfo.hasNextPage).toBe(true);
  });
});
