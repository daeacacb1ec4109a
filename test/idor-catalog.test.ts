/**
 * The catalogue: products that are not public, product mutations, reviews.
 *
 * Insecure direct object references: user B, holding a valid id of user A's
 * private object, never reads or changes it. Every path answers exactly as
 * it does for a well-formed id of an object that does not exist, so B
 * cannot even learn that the object is there.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { server, query, asRecord, errorSummary, expectSameAsMissing, startIdorServer, type Data, type Headers } from './helpers/idor.js';

startIdorServer();

describe('products that are not public', () => {
  let sellerA: Account;
  let sellerB: Account;
  let customer: Account;
  let admin: Account;
  let category: CategoryRow;
  let active: ProductRow;
  let draft: ProductRow;
  let archived: ProductRow;
  let deleted: ProductRow;
  let outsiders: Array<[string, Headers]>;
  let insiders: Array<[string, Headers]>;

  beforeAll(async () => {
    sellerA = await createAccount(server, { role: 'SELLER' });
    sellerB = await createAccount(server, { role: 'SELLER' });
    customer = await createAccount(server);
    admin = await createAccount(server, { role: 'ADMIN' });
    const seed = seeder(server.db);
    category = await seed.category();
    active = await seed.product({ seller: sellerA.user, category, title: 'Public lamp' });
    draft = await seed.product({ seller: sellerA.user, category, title: 'Draft lamp', status: 'DRAFT' });
    archived = await seed.product({ seller: sellerA.user, category, title: 'Archived lamp', status: 'ARCHIVED' });
    deleted = await seed.product({ seller: sellerA.user, category, title: 'Deleted lamp', deleted: true });
    outsiders = [
      ['seller B', sellerB.headers],
      ['a customer', customer.headers],
      ['an anonymous caller', {}],
    ];
    insiders = [
      ['seller A (their seller)', sellerA.headers],
      ['an admin', admin.headers],
    ];
  });

  const SINGLE = `query ($id: ID!) {
    product(id: $id) { id status }
    node(id: $id) { id }
    nodes(ids: [$id]) { id }
  }`;
  const LIST = `query ($filter: ProductFilter) { products(filter: $filter, first: 100) { totalCount nodes { id } } }`;
  const NESTED = `query ($filter: ProductFilter) {
    categories { id products(filter: $filter, first: 100) { totalCount nodes { id } } }
  }`;

  async function listed(document: string, filter: Data, headers: Headers): Promise<string[]> {
    const res = await query(document, { filter }, headers);
    expect(res.body.errors).toBeUndefined();
    let connection: Data;
    if (document === LIST) {
      connection = asRecord(res.body.data?.['products'], 'products');
    } else {
      const categories = res.body.data?.['categories'] as Array<{ id: string; products: Data }>;
      const ours = categories.find((entry) => entry.id === gid('Category', category));
      if (!ours) throw new Error('the test category is missing');
      connection = ours.products;
    }
    const ids = (connection['nodes'] as Array<{ id: string }>).map((node) => node.id).sort();
    expect(connection['totalCount']).toBe(ids.length);
    return ids;
  }

  it('hides DRAFT and ARCHIVED products from seller B, customers and anonymous callers via product, node and nodes, as if missing', async () => {
    for (const [, headers] of outsiders) {
      for (const hidden of [draft, archived]) {
        await expectSameAsMissing(SINGLE, gid('Product', hidden), missingId('Product'), headers, { product: null, node: null, nodes: [null] });
      }
    }
  });

  it('leaves them out of products(filter: { statuses }) and categories { products } for seller B, customers and anonymous callers', async () => {
    const sellerId = gid('User', sellerA.user);
    for (const [who, headers] of outsiders) {
      for (const document of [LIST, NESTED]) {
        const hiddenOnly = await listed(document, { statuses: ['DRAFT', 'ARCHIVED'], sellerId }, headers);
        expect({ who, ids: hiddenOnly }).toEqual({ who, ids: [] });
        // Asking for every status at once still yields only the public one.
        const all = await listed(document, { statuses: ['ACTIVE', 'DRAFT', 'ARCHIVED'], sellerId }, headers);
        expect({ who, ids: all }).toEqual({ who, ids: [gid('Product', active)] });
      }
    }
  });

  it('shows them to their seller and to admins through every path', async () => {
    const sellerId = gid('User', sellerA.user);
    for (const [who, headers] of insiders) {
      for (const [shown, status] of [
        [draft, 'DRAFT'],
        [archived, 'ARCHIVED'],
      ] as const) {
        const id = gid('Product', shown);
        const res = await query(SINGLE, { id }, headers);
        expect({ who, errors: res.body.errors, data: res.body.data }).toEqual({
          who,
          errors: undefined,
          data: { product: { id, status }, node: { id }, nodes: [{ id }] },
        });
      }
      for (const document of [LIST, NESTED]) {
        const ids = await listed(document, { statuses: ['DRAFT', 'ARCHIVED'], sellerId }, headers);
        expect({ who, ids }).toEqual({ who, ids: [gid('Product', draft), gid('Product', archived)].sort() });
      }
    }
  });

  it('hides a soft-deleted product from everyone via product, node and nodes, its seller and admins included', async () => {
    for (const [, headers] of [...outsiders, ...insiders]) {
      await expectSameAsMissing(SINGLE, gid('Product', deleted), missingId('Product'), headers, { product: null, node: null, nodes: [null] });
    }
  });

  it('lists a soft-deleted product for admins only when they ask with includeDeleted', async () => {
    const filter = { includeDeleted: true, sellerId: gid('User', sellerA.user) };
    const ids = await listed(LIST, filter, admin.headers);
    expect(ids).toEqual([gid('Product', active), gid('Product', deleted)].sort());

    const bySeller = await query(LIST, { filter }, sellerA.headers);
    expect(bySeller.body.data).toEqual({ products: null });
    expect(errorSummary(bySeller)).toEqual([{ path: ['products'], code: 'FORBIDDEN' }]);
  });
});

describe("another seller's product, through the product mutations", () => {
  it('answers every product write by seller B exactly as for a missing id, and changes nothing of A', async () => {
    const seed = seeder(server.db);
    const [a, b] = await Promise.all([createAccount(server, { role: 'SELLER' }), createAccount(server, { role: 'SELLER' })]);
    const live = await seed.product({ seller: a.user, status: 'ACTIVE' });
    const draft = await seed.product({ seller: a.user, status: 'DRAFT' });
    const gone = await seed.product({ seller: a.user, status: 'ACTIVE', deleted: true });
    const cases: Array<[string, string, string, Data]> = [
      ['updateProduct', 'UpdateProductInput', gid('Product', live), { expectedVersion: 1, title: 'B was here' }],
      ['publishProduct', 'PublishProductInput', gid('Product', draft), {}],
      ['archiveProduct', 'ArchiveProductInput', gid('Product', live), {}],
      ['deleteProduct', 'DeleteProductInput', gid('Product', live), {}],
      ['restoreProduct', 'RestoreProductInput', gid('Product', gone), {}],
    ];
    for (const [field, inputType, id, extra] of cases) {
      const document = `mutation ($input: ${inputType}!) { ${field}(input: $input) { userErrors { field code message } } }`;
      const others = await query(document, { input: { productId: id, ...extra } }, b.headers);
      const absent = await query(document, { input: { productId: missingId('Product'), ...extra } }, b.headers);
      expect({ field, status: others.status, body: others.body.data }).toEqual({ field, status: absent.status, body: absent.body.data });
      expect(others.body.data).toEqual({ [field]: { userErrors: [{ field: ['input', 'productId'], code: 'NOT_FOUND', message: 'No such product.' }] } });
    }
    const rows = await server.db.selectFrom('products').select(['id', 'version', 'status', 'deleted_at']).where('seller_id', '=', a.user.id).execute();
    expect(rows.every((row) => row.version === 1)).toBe(true);
  });
});

describe("another user's review", () => {
  it('answers updateReview and deleteReview by B exactly as for a missing id, even with a REVIEWS_WRITE key, and changes nothing of A', async () => {
    const seed = seeder(server.db);
    const [a, b] = await Promise.all([createAccount(server), createAccount(server)]);
    const bKey = await createApiKey(server, b, ['REVIEWS_WRITE']);
    const product = await seed.product();
    const review = await seed.review({ product, author: a.user, rating: 4 });
    const cases: Array<[string, string, Data]> = [
      ['updateReview', 'UpdateReviewInput', { expectedVersion: 1, rating: 1, body: 'B was here' }],
      ['deleteReview', 'DeleteReviewInput', {}],
    ];
    for (const headers of [b.headers, bKey.headers]) {
      for (const [field, inputType, extra] of cases) {
        const document = `mutation ($input: ${inputType}!) { ${field}(input: $input) { userErrors { field code message } } }`;
        const others = await query(document, { input: { reviewId: gid('Review', review), ...extra } }, headers);
        const absent = await query(document, { input: { reviewId: missingId('Review'), ...extra } }, headers);
        expect({ field, status: others.status, body: others.body.data }).toEqual({ field, status: absent.status, body: absent.body.data });
        expect(others.body.data).toEqual({ [field]: { userErrors: [{ field: ['input', 'reviewId'], code: 'NOT_FOUND', message: 'No such review.' }] } });
      }
    }
    const row = await server.db.selectFrom('reviews').select(['rating', 'body', 'version', 'deleted_at']).where('id', '=', review.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ rating: 4, body: review.body, version: 1, deleted_at: null });
  });

  it('is null for everyone via node and nodes once soft-deleted, exactly as a missing review id is, and listed for admins only', async () => {
    const seed = seeder(server.db);
    const [author, other, admin] = await Promise.all([createAccount(server), createAccount(server), createAccount(server, { role: 'ADMIN' })]);
    const product = await seed.product();
    const deleted = await seed.review({ product, author: author.user, deleted: true });
    const NODE = 'query ($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }';
    for (const headers of [author.headers, other.headers, admin.headers, {}]) {
      await expectSameAsMissing(NODE, gid('Review', deleted), missingId('Review'), headers, { node: null, nodes: [null] });
    }
    const LIST = 'query ($id: ID!) { product(id: $id) { reviews { nodes { id } } deletedReviews { nodes { id } } } }';
    const asAdmin = await query(LIST, { id: gid('Product', product) }, admin.headers);
    expect(asAdmin.body).toMatchObject({ data: { product: { reviews: { nodes: [] }, deletedReviews: { nodes: [{ id: gid('Review', deleted) }] } } } });
    expect(asAdmin.body.errors).toBeUndefined();
    const asAuthor = await query(LIST, { id: gid('Product', product) }, author.headers);
    expect(asAuthor.body.data).toEqual({ product: { reviews: { nodes: [] }, deletedReviews: null } });
    expect(errorSummary(asAuthor)).toEqual([{ path: ['product', 'deletedReviews'], code: 'FORBIDDEN' }]);
  });
});
