/**
 * Insecure direct object references: user B, holding a valid id of user A's
 * private object, never reads or changes it. Every path answers exactly as
 * it does for a well-formed id of an object that does not exist, so B
 * cannot even learn that the object is there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';

type Data = Record<string, unknown>;
type Headers = Record<string, string>;

let server: TestServer;

beforeAll(async () => {
  // Many log-ins from one IP: lift the brute-force budget so it does not get in the way.
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
});

afterAll(async () => {
  await server.close();
});

function query(document: string, variables: Data, headers: Headers): Promise<GraphQLResult<Data>> {
  return server.graphql<Data>(document, variables, { headers });
}

function asRecord(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not an object: ${JSON.stringify(value)}`);
  }
  return value as Data;
}

function errorSummary(res: GraphQLResult<Data>): Array<{ path: unknown; code: unknown }> {
  return (res.body.errors ?? []).map((error) => ({ path: error.path, code: error.extensions?.['code'] }));
}

/** Asks the same document with someone else's id and with a missing id; both answers must be identical. */
async function expectSameAsMissing(document: string, othersId: string, missing: string, headers: Headers, expected: Data): Promise<void> {
  const others = await query(document, { id: othersId }, headers);
  const absent = await query(document, { id: missing }, headers);
  expect(others.status).toBe(absent.status);
  expect(others.body.errors).toEqual(absent.body.errors);
  expect(others.body.data).toEqual(absent.body.data);
  expect(others.body.data).toEqual(expected);
  expect(others.body.errors).toBeUndefined();
}

const REFRESH = `mutation ($input: RefreshSessionInput!) {
  refreshSession(input: $input) { accessToken refreshToken userErrors { field code message } }
}`;

async function currentSessionId(account: Account): Promise<string> {
  const res = await query('{ viewer { sessions { id current } } }', {}, account.headers);
  const sessions = asRecord(res.body.data?.['viewer'], 'viewer')['sessions'] as Array<{ id: string; current: boolean }>;
  const current = sessions.find((session) => session.current);
  if (!current) throw new Error(`no current session: ${JSON.stringify(res.body)}`);
  return current.id;
}

describe("another user's session", () => {
  let a: Account;
  let b: Account;
  let aSession: string;
  let bSession: string;

  beforeAll(async () => {
    a = await createAccount(server);
    b = await createAccount(server);
    aSession = await currentSessionId(a);
    bSession = await currentSessionId(b);
  });

  const NODE = `query ($id: ID!) {
    node(id: $id) { __typename id ... on Session { createdAt expiresAt ip userAgent current } }
    nodes(ids: [$id]) { id }
  }`;

  it('is null for B from node and nodes, exactly as a missing session id is', async () => {
    // Positive control: the owner fetches it through the same document.
    const own = await query(NODE, { id: aSession }, a.headers);
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data).toMatchObject({ node: { __typename: 'Session', id: aSession, current: true }, nodes: [{ id: aSession }] });

    await expectSameAsMissing(NODE, aSession, missingId('Session'), b.headers, { node: null, nodes: [null] });
  });

  it("never appears in B's viewer.sessions", async () => {
    const res = await query('{ viewer { sessions { id } } }', {}, b.headers);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ viewer: { sessions: [{ id: bSession }] } });
  });

  it("answers B's revokeSession exactly like a missing id, and A's session keeps working", async () => {
    const REVOKE = `mutation ($input: RevokeSessionInput!) {
      revokeSession(input: $input) { session { id createdAt } userErrors { field code message } }
    }`;
    const others = await query(REVOKE, { input: { sessionId: aSession } }, b.headers);
    const absent = await query(REVOKE, { input: { sessionId: missingId('Session') } }, b.headers);
    expect(others.status).toBe(200);
    expect(others.body.errors).toBeUndefined();
    expect(others.body.data).toEqual(absent.body.data);
    expect(others.body.data).toEqual({
      revokeSession: { session: null, userErrors: [{ field: ['input', 'sessionId'], code: 'NOT_FOUND', message: expect.any(String) }] },
    });

    // Nothing happened to A: the access token still authenticates and the refresh token still rotates.
    const viewer = await query('{ viewer { id } }', {}, a.headers);
    expect(viewer.status).toBe(200);
    expect(viewer.body.data).toEqual({ viewer: { id: gid('User', a.user) } });
    const refreshed = await query(REFRESH, { input: { refreshToken: a.refreshToken } }, {});
    expect(refreshed.body.errors).toBeUndefined();
    const payload = asRecord(refreshed.body.data?.['refreshSession'], 'refreshSession');
    expect(payload['userErrors']).toEqual([]);
    expect(payload['accessToken']).toEqual(expect.any(String));
    const revoked = await server.db
      .selectFrom('audit_events')
      .select('id')
      .where('action', '=', 'SESSION_REVOKED')
      .where('actor_id', '=', b.user.id)
      .execute();
    expect(revoked).toEqual([]);
  });
});

describe("another user's API key", () => {
  let a: Account;
  let b: Account;
  let aKey: { headers: Headers; id: string };
  let bKey: { headers: Headers; id: string };

  beforeAll(async () => {
    a = await createAccount(server);
    b = await createAccount(server);
    aKey = await createApiKey(server, a, ['CATALOG_READ']);
    bKey = await createApiKey(server, b, ['CATALOG_READ']);
  });

  const NODE = `query ($id: ID!) {
    node(id: $id) { __typename id ... on ApiKey { name prefix scopes revokedAt } }
    nodes(ids: [$id]) { id }
  }`;

  it('is null for B from node and nodes, exactly as a missing key id is', async () => {
    const own = await query(NODE, { id: aKey.id }, a.headers);
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data).toMatchObject({ node: { __typename: 'ApiKey', id: aKey.id, revokedAt: null }, nodes: [{ id: aKey.id }] });

    await expectSameAsMissing(NODE, aKey.id, missingId('ApiKey'), b.headers, { node: null, nodes: [null] });
  });

  it("never appears in B's viewer.apiKeys", async () => {
    const res = await query('{ viewer { apiKeys { id } } }', {}, b.headers);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ viewer: { apiKeys: [{ id: bKey.id }] } });
  });

  it("answers B's revokeApiKey exactly like a missing id, and A's key keeps working", async () => {
    const REVOKE = `mutation ($input: RevokeApiKeyInput!) {
      revokeApiKey(input: $input) { apiKey { id revokedAt } userErrors { field code message } }
    }`;
    const others = await query(REVOKE, { input: { apiKeyId: aKey.id } }, b.headers);
    const absent = await query(REVOKE, { input: { apiKeyId: missingId('ApiKey') } }, b.headers);
    expect(others.status).toBe(200);
    expect(others.body.errors).toBeUndefined();
    expect(others.body.data).toEqual(absent.body.data);
    expect(others.body.data).toEqual({
      revokeApiKey: { apiKey: null, userErrors: [{ field: ['input', 'apiKeyId'], code: 'NOT_FOUND', message: expect.any(String) }] },
    });

    const viaKey = await query('{ viewer { id } }', {}, aKey.headers);
    expect(viaKey.status).toBe(200);
    expect(viaKey.body.data).toEqual({ viewer: { id: gid('User', a.user) } });
    const rows = await server.db.selectFrom('api_keys').select('revoked_at').where('user_id', '=', a.user.id).execute();
    expect(rows).toEqual([{ revoked_at: null }]);
  });
});

describe('audit events', () => {
  it('are null for a customer from node and nodes, even an event about that customer, exactly as a missing id is', async () => {
    const admin = await createAccount(server, { role: 'ADMIN' });
    const customer = await createAccount(server);
    const listed = await query(
      'query ($actor: ID!) { auditEvents(first: 1, filter: { actorId: $actor }) { nodes { id action } } }',
      { actor: gid('User', customer.user) },
      admin.headers,
    );
    const [event] = asRecord(listed.body.data?.['auditEvents'], 'auditEvents')['nodes'] as Array<{ id: string; action: string }>;
    if (!event) throw new Error(`no audit event of the customer: ${JSON.stringify(listed.body)}`);
    expect(event.action).toBe('LOGIN_SUCCEEDED');

    const NODE = `query ($id: ID!) {
      node(id: $id) { __typename id ... on AuditEvent { action ip metadata } }
      nodes(ids: [$id]) { id }
    }`;
    // Positive control: the admin reads it through the same document.
    const asAdmin = await query(NODE, { id: event.id }, admin.headers);
    expect(asAdmin.body.errors).toBeUndefined();
    expect(asAdmin.body.data).toMatchObject({ node: { __typename: 'AuditEvent', id: event.id, action: 'LOGIN_SUCCEEDED' } });

    await expectSameAsMissing(NODE, event.id, missingId('AuditEvent'), customer.headers, { node: null, nodes: [null] });
  });
});

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

describe("another user's private profile fields", () => {
  let sellerA: Account;
  let userB: Account;
  let product: ProductRow;
  let category: CategoryRow;

  beforeAll(async () => {
    sellerA = await createAccount(server, { role: 'SELLER', displayName: 'Seller A' });
    userB = await createAccount(server);
    const seed = seeder(server.db);
    category = await seed.category();
    product = await seed.product({ seller: sellerA.user, category, title: 'Nested lamp' });
  });

  const PRODUCT = `query ($id: ID!) {
    product(id: $id) { id title seller { id displayName } e: seller { email } r: seller { role } }
  }`;

  it("are FORBIDDEN to B through product { seller { email role } } while the rest of the data resolves", async () => {
    const res = await query(PRODUCT, { id: gid('Product', product) }, userB.headers);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      product: { id: gid('Product', product), title: 'Nested lamp', seller: { id: gid('User', sellerA.user), displayName: 'Seller A' }, e: { email: null }, r: { role: null } },
    });
    expect(errorSummary(res)).toEqual(
      expect.arrayContaining([
        { path: ['product', 'e', 'email'], code: 'FORBIDDEN' },
        { path: ['product', 'r', 'role'], code: 'FORBIDDEN' },
      ]),
    );
    expect(res.body.errors).toHaveLength(2);
    expect(JSON.stringify(res.body)).not.toContain(sellerA.email);

    // Positive control: A reads them through the same path.
    const own = await query(PRODUCT, { id: gid('Product', product) }, sellerA.headers);
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data).toMatchObject({ product: { e: { email: sellerA.email }, r: { role: 'SELLER' } } });
  });

  it('are UNAUTHENTICATED to an anonymous caller without nulling the public seller around them', async () => {
    const res = await query(
      'query ($id: ID!) { product(id: $id) { title seller { displayName email } } }',
      { id: gid('Product', product) },
      {},
    );
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ product: { title: 'Nested lamp', seller: { displayName: 'Seller A', email: null } } });
    expect(errorSummary(res)).toEqual([{ path: ['product', 'seller', 'email'], code: 'UNAUTHENTICATED' }]);
  });

  it('are FORBIDDEN to B through a list nested in a category as well', async () => {
    const res = await query(
      'query ($slug: String!) { categoryBySlug(slug: $slug) { slug products { nodes { title seller { email } } } } }',
      { slug: category.slug },
      userB.headers,
    );
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ categoryBySlug: { slug: category.slug, products: { nodes: [{ title: 'Nested lamp', seller: { email: null } }] } } });
    expect(errorSummary(res)).toEqual([{ path: ['categoryBySlug', 'products', 'nodes', 0, 'seller', 'email'], code: 'FORBIDDEN' }]);
    expect(JSON.stringify(res.body)).not.toContain(sellerA.email);
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

describe("another user's order", () => {
  let a: Account;
  let aSeller: Account;
  let b: Account;
  let bSeller: Account;
  let admin: Account;
  let aOrder: string;
  let orderRowId: string;

  beforeAll(async () => {
    [a, aSeller, b, bSeller, admin] = await Promise.all([
      createAccount(server),
      createAccount(server, { role: 'SELLER' }),
      createAccount(server),
      createAccount(server, { role: 'SELLER' }),
      createAccount(server, { role: 'ADMIN' }),
    ]);
    const seed = seeder(server.db);
    const product = await seed.product({ seller: aSeller.user, stock: 5 });
    const order = await seed.order({ customer: a.user, items: [{ product, quantity: 2 }], status: 'PAID' });
    orderRowId = order.id;
    aOrder = gid('Order', order);
  });

  const READ = `query ($id: ID!) {
    order(id: $id) { id status total { amount } items { title } customer { id } }
    node(id: $id) { id ... on Order { status } }
    nodes(ids: [$id]) { id }
  }`;

  it('is visible to its customer, its seller and admins through order, node and nodes', async () => {
    for (const account of [a, aSeller, admin]) {
      const res = await query(READ, { id: aOrder }, account.headers);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toMatchObject({ order: { id: aOrder, status: 'PAID', customer: { id: gid('User', a.user) } }, node: { id: aOrder }, nodes: [{ id: aOrder }] });
    }
  });

  it('is null for another customer, another seller and an ORDERS_READ key of theirs, exactly as a missing order id is', async () => {
    const bKey = await createApiKey(server, b, ['ORDERS_READ', 'CATALOG_READ']);
    for (const headers of [b.headers, bSeller.headers, bKey.headers]) {
      await expectSameAsMissing(READ, aOrder, missingId('Order'), headers, { order: null, node: null, nodes: [null] });
    }
  });

  it("is null through node for the customer's own key without ORDERS_READ", async () => {
    const catalogKey = await createApiKey(server, a, ['CATALOG_READ']);
    const res = await query('query ($id: ID!) { node(id: $id) { id } }', { id: aOrder }, catalogKey.headers);
    expect(res.body).toEqual(expect.objectContaining({ data: { node: null } }));
  });

  it("never appears in B's viewer.orders or in another seller's viewer.sales", async () => {
    const orders = await query('{ viewer { orders { totalCount nodes { id } } } }', {}, b.headers);
    expect(orders.body.data).toEqual({ viewer: { orders: { totalCount: 0, nodes: [] } } });
    const sales = await query('{ viewer { sales { totalCount nodes { id } } } }', {}, bSeller.headers);
    expect(sales.body.data).toEqual({ viewer: { sales: { totalCount: 0, nodes: [] } } });
  });

  it('answers every order mutation by B or another seller exactly as for a missing id, and changes nothing', async () => {
    const cases: Array<[string, string, Account]> = [
      ['cancelOrder', 'CancelOrderInput', b],
      ['shipOrder', 'ShipOrderInput', bSeller],
      ['deliverOrder', 'DeliverOrderInput', bSeller],
      ['cancelOrder', 'CancelOrderInput', bSeller],
    ];
    for (const [field, inputType, account] of cases) {
      const document = `mutation ($input: ${inputType}!) { ${field}(input: $input) { order { id } userErrors { field code message } } }`;
      const others = await query(document, { input: { orderId: aOrder, expectedVersion: 1 } }, account.headers);
      const absent = await query(document, { input: { orderId: missingId('Order'), expectedVersion: 1 } }, account.headers);
      expect(others.body.errors).toBeUndefined();
      expect(others.body.data).toEqual(absent.body.data);
      expect(others.body.data).toEqual({ [field]: { order: null, userErrors: [{ field: ['input', 'orderId'], code: 'NOT_FOUND', message: 'No such order.' }] } });
    }
    const row = await server.db.selectFrom('orders').select(['status', 'version']).where('id', '=', orderRowId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'PAID', version: 1 });
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
