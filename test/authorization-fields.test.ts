/**
 * Authorization of single fields (the operation matrix, by module, is in
 * test/authorization-matrix.test.ts): who sees which field of a product,
 * user, session or key; admin-only filters; auditing of denials; the order
 * lists on User. Over HTTP, against the real database.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { errorCodes } from '../src/errors/codes.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { asRecord, errorCodesOf, eventually, setFixtures, userRow, type Data } from './authorization/kit.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let category: CategoryRow;

beforeAll(async () => {
  // Many log-ins from one IP: lift the brute-force budget so it does not get in the way.
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  category = await seeder(server.db).category();
  // The kit's helpers (userRow) read the same server.
  setFixtures({ server, category, activeProduct: await seeder(server.db).product({ category }) });
});

afterAll(async () => {
  await server.close();
});

// ---------------------------------------------------------------------------
// Field-level rules
// ---------------------------------------------------------------------------

describe('field-level rules', () => {
  let owner: Account;
  let otherSeller: Account;
  let customer: Account;
  let admin: Account;
  let ownersKey: { headers: Record<string, string>; id: string };
  let product: ProductRow;
  let deleted: ProductRow;

  beforeAll(async () => {
    owner = await createAccount(server, { role: 'SELLER' });
    otherSeller = await createAccount(server, { role: 'SELLER' });
    customer = await createAccount(server, { role: 'CUSTOMER' });
    admin = await createAccount(server, { role: 'ADMIN' });
    ownersKey = await createApiKey(server, owner, ['CATALOG_READ']);
    const seed = seeder(server.db);
    product = await seed.product({ seller: owner.user, category, title: 'Field rules lamp' });
    deleted = await seed.product({ seller: owner.user, category, title: 'Field rules deleted lamp', deleted: true });
  });

  const SELLER_PRIVATE = `query ($id: ID!) {
    product(id: $id) { title seller { displayName } e: seller { email } r: seller { role } }
  }`;

  it('shows User.email and User.role to the user and to admins', async () => {
    const self = await server.graphql<Data>('{ viewer { email role } }', {}, { headers: owner.headers });
    expect(self.body).toMatchObject({ data: { viewer: { email: owner.email, role: 'SELLER' } } });
    expect(self.body.errors).toBeUndefined();

    for (const headers of [owner.headers, admin.headers]) {
      const res = await server.graphql<Data>(SELLER_PRIVATE, { id: gid('Product', product) }, { headers });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toEqual({
        product: { title: 'Field rules lamp', seller: { displayName: owner.user.display_name }, e: { email: owner.email }, r: { role: 'SELLER' } },
      });
    }
  });

  it('refuses User.email and User.role of someone else with FORBIDDEN, and to anonymous callers with UNAUTHENTICATED', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [otherSeller.headers, 'FORBIDDEN'],
      [customer.headers, 'FORBIDDEN'],
      // rules.ts: "UNAUTHENTICATED when there is no viewer" (signing in could make it visible: it may be you).
      [{}, 'UNAUTHENTICATED'],
    ];
    for (const [headers, code] of cases) {
      const res = await server.graphql<Data>(SELLER_PRIVATE, { id: gid('Product', product) }, { headers });
      expect(res.status).toBe(200);
      // The rest of the product resolves; only the private fields (and their nullable parents) are null.
      expect(res.body.data).toEqual({ product: { title: 'Field rules lamp', seller: { displayName: owner.user.display_name }, e: { email: null }, r: { role: null } } });
      const errors = (res.body.errors ?? []).map((error) => ({ path: error.path, code: error.extensions?.['code'] }));
      expect(errors).toEqual(
        expect.arrayContaining([
          { path: ['product', 'e', 'email'], code },
          { path: ['product', 'r', 'role'], code },
        ]),
      );
      expect(errors).toHaveLength(2);
    }
  });

  it('shows User.deactivatedAt to admins only, not even to the user', async () => {
    const self = await server.graphql<Data>('{ viewer { id deactivatedAt } }', {}, { headers: owner.headers });
    expect(self.body.data).toEqual({ viewer: { id: gid('User', owner.user), deactivatedAt: null } });
    expect(errorCodesOf(self)).toEqual(['FORBIDDEN']);
    expect(self.body.errors?.[0]?.path).toEqual(['viewer', 'deactivatedAt']);

    const asAdmin = await server.graphql<Data>('query ($id: ID!) { product(id: $id) { seller { deactivatedAt } } }', { id: gid('Product', product) }, {
      headers: admin.headers,
    });
    expect(asAdmin.body).toEqual(expect.objectContaining({ data: { product: { seller: { deactivatedAt: null } } } }));
    expect(asAdmin.body.errors).toBeUndefined();
  });

  it('shows User.sessions and User.apiKeys to the user in person only: not to admins, others or API keys', async () => {
    const self = await server.graphql<Data>('{ viewer { sessions { id } apiKeys { id } } }', {}, { headers: owner.headers });
    expect(self.body.errors).toBeUndefined();
    const viewer = asRecord(self.body.data?.['viewer'], 'viewer');
    expect(viewer['sessions']).toHaveLength(1);
    expect(viewer['apiKeys']).toEqual([{ id: ownersKey.id }]);

    const nested = 'query ($id: ID!) { product(id: $id) { title seller { sessions { id } } s: seller { apiKeys { id } } } }';
    const cases: Array<[string, Record<string, string>, string]> = [
      ['admin', admin.headers, 'FORBIDDEN'],
      ['other seller', otherSeller.headers, 'FORBIDDEN'],
      ['anonymous', {}, 'UNAUTHENTICATED'],
    ];
    for (const [who, headers, code] of cases) {
      const res = await server.graphql<Data>(nested, { id: gid('Product', product) }, { headers });
      expect({ who, data: res.body.data }).toEqual({ who, data: { product: { title: 'Field rules lamp', seller: { sessions: null }, s: { apiKeys: null } } } });
      expect({ who, codes: errorCodesOf(res) }).toEqual({ who, codes: [code, code] });
    }

    // The user's own API key, even with a read scope, gets neither list.
    const viaKey = await server.graphql<Data>('{ viewer { id sessions { id } } v: viewer { apiKeys { id } } }', {}, { headers: ownersKey.headers });
    expect(viaKey.body.data).toEqual({ viewer: { id: gid('User', owner.user), sessions: null }, v: { apiKeys: null } });
    expect(errorCodesOf(viaKey)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it("never lets an API key read sessions or keys, not even its owner's, through node", async () => {
    const self = await server.graphql<Data>('{ viewer { sessions { id } } }', {}, { headers: owner.headers });
    const sessions = asRecord(self.body.data?.['viewer'], 'viewer')['sessions'] as Array<{ id: string }>;
    const sessionId = sessions[0]?.id ?? '';
    expect(sessionId).not.toBe('');

    const doc = `query ($s: ID!, $k: ID!) {
      s: node(id: $s) { id ... on Session { ip userAgent } }
      k: node(id: $k) { id ... on ApiKey { name prefix scopes } }
    }`;
    // In person, the owner sees both (positive control).
    const inPerson = await server.graphql<Data>(doc, { s: sessionId, k: ownersKey.id }, { headers: owner.headers });
    expect(inPerson.body.errors).toBeUndefined();
    expect(asRecord(inPerson.body.data?.['s'], 's')['id']).toBe(sessionId);
    expect(asRecord(inPerson.body.data?.['k'], 'k')['id']).toBe(ownersKey.id);

    // Through the API key: account data is never open to keys (ApiKeyScope, isPersonalSession).
    const viaKey = await server.graphql<Data>(doc, { s: sessionId, k: ownersKey.id }, { headers: ownersKey.headers });
    expect(viaKey.body.data).toEqual({ s: null, k: null });
  });

  it('shows Product.deletedAt to the product’s seller and admins only', async () => {
    const doc = 'query ($id: ID!) { product(id: $id) { title deletedAt } }';
    for (const headers of [owner.headers, admin.headers]) {
      const res = await server.graphql<Data>(doc, { id: gid('Product', product) }, { headers });
      expect(res.body).toEqual(expect.objectContaining({ data: { product: { title: 'Field rules lamp', deletedAt: null } } }));
      expect(res.body.errors).toBeUndefined();
    }
    const cases: Array<[string, Record<string, string>, string]> = [
      ['other seller', otherSeller.headers, 'FORBIDDEN'],
      ['customer', customer.headers, 'FORBIDDEN'],
      ['anonymous', {}, 'UNAUTHENTICATED'],
    ];
    for (const [who, headers, code] of cases) {
      const res = await server.graphql<Data>(doc, { id: gid('Product', product) }, { headers });
      expect({ who, status: res.status, data: res.body.data }).toEqual({ who, status: 200, data: { product: { title: 'Field rules lamp', deletedAt: null } } });
      expect({ who, codes: errorCodesOf(res), path: res.body.errors?.[0]?.path }).toEqual({ who, codes: [code], path: ['product', 'deletedAt'] });
    }
  });

  it('shows every AuditEvent field to an admin in person', async () => {
    const res = await server.graphql<Data>(
      `{ auditEvents(first: 1, filter: { action: "LOGIN_SUCCEEDED" }) {
          totalCount pageInfo { hasNextPage } edges { cursor }
          nodes { id occurredAt actor { id } action targetType targetId requestId ip userAgent metadata }
      } }`,
      {},
      { headers: admin.headers },
    );
    expect(res.body.errors).toBeUndefined();
    const events = asRecord(res.body.data?.['auditEvents'], 'auditEvents');
    const [event] = events['nodes'] as Data[];
    expect(event).toMatchObject({ action: 'LOGIN_SUCCEEDED', targetType: 'Session', metadata: {} });
    expect(asRecord(event?.['actor'], 'actor')['id']).toEqual(expect.any(String));
  });

  it("lets no API key reach an audit event, not even an admin's key, through auditEvents or node", async () => {
    const listed = await server.graphql<Data>('{ auditEvents(first: 1) { nodes { id } } }', {}, { headers: admin.headers });
    const [first] = asRecord(listed.body.data?.['auditEvents'], 'auditEvents')['nodes'] as Array<{ id: string }>;
    if (!first) throw new Error('no audit event to look at');

    const adminKey = await createApiKey(server, admin, ['CATALOG_READ']);
    const viaList = await server.graphql<Data>('{ auditEvents(first: 1) { nodes { id action } } }', {}, { headers: adminKey.headers });
    expect(viaList.body.data).toEqual({ auditEvents: null });
    expect(errorCodesOf(viaList)).toEqual(['FORBIDDEN']);

    const viaNode = await server.graphql<Data>('query ($id: ID!) { node(id: $id) { id ... on AuditEvent { action ip metadata } } }', { id: first.id }, {
      headers: adminKey.headers,
    });
    expect(viaNode.body.data).toEqual({ node: null });
  });

  it("refuses admin mutations to an admin's API key: admin operations are for people in person", async () => {
    const adminKey = await createApiKey(server, admin, ['CATALOG_READ', 'CATALOG_WRITE', 'ORDERS_READ', 'ORDERS_WRITE', 'REVIEWS_WRITE']);
    const target = await seeder(server.db).user({ role: 'CUSTOMER' });
    const role = await server.graphql<Data>(
      'mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { user { id } } }',
      { input: { userId: gid('User', target), role: 'ADMIN' } },
      { headers: adminKey.headers },
    );
    const deactivate = await server.graphql<Data>(
      'mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { id } } }',
      { input: { userId: gid('User', target) } },
      { headers: adminKey.headers },
    );
    for (const res of [role, deactivate]) {
      expect({ status: res.status, data: res.body.data, codes: errorCodesOf(res) }).toEqual({ status: 200, data: null, codes: ['FORBIDDEN'] });
    }
    expect(await userRow(target.id)).toMatchObject({ role: 'CUSTOMER', deleted_at: null });
  });

  describe('filter.includeDeleted', () => {
    const LIST = 'query ($filter: ProductFilter) { products(filter: $filter, first: 100) { nodes { id deletedAt } } }';
    const NESTED = 'query ($filter: ProductFilter) { categories { id products(filter: $filter, first: 100) { nodes { id } } } }';

    it('is refused with FORBIDDEN to non-admins and UNAUTHENTICATED to anonymous callers, nulling only the denied list', async () => {
      const catalogKey = await createApiKey(server, customer, ['CATALOG_READ']);
      const cases: Array<[string, Record<string, string>, 'FORBIDDEN' | 'UNAUTHENTICATED']> = [
        ['customer', customer.headers, 'FORBIDDEN'],
        ['seller of the deleted product', owner.headers, 'FORBIDDEN'],
        ["customer's API key", catalogKey.headers, 'FORBIDDEN'],
        ['anonymous', {}, 'UNAUTHENTICATED'],
      ];
      for (const [who, headers, code] of cases) {
        // The only root field is denied: no data, so the status is the code's.
        const list = await server.graphql<Data>(LIST, { filter: { includeDeleted: true } }, { headers });
        expect({ who, data: list.body.data, codes: errorCodesOf(list), status: list.status }).toEqual({
          who,
          data: { products: null },
          codes: [code],
          status: errorCodes[code].status,
        });
        if (code === 'UNAUTHENTICATED') expect(list.headers.get('www-authenticate')).toMatch(/^Bearer /);

        // Nested under each category: the categories still resolve (200), each denied list is null.
        const nested = await server.graphql<Data>(NESTED, { filter: { includeDeleted: true } }, { headers });
        const categories = nested.body.data?.['categories'] as Array<{ products: unknown }>;
        expect(categories.length).toBeGreaterThan(0);
        expect({ who, status: nested.status, lists: new Set(categories.map((c) => c.products)), codes: new Set(errorCodesOf(nested)) }).toEqual({
          who,
          status: 200,
          lists: new Set([null]),
          codes: new Set([code]),
        });
        expect(errorCodesOf(nested)).toHaveLength(categories.length);
      }
      // Asking explicitly for no deleted rows is fine for anyone.
      const explicitFalse = await server.graphql<Data>('query ($filter: ProductFilter) { products(filter: $filter) { totalCount } }', {
        filter: { includeDeleted: false },
      });
      expect(explicitFalse.body.errors).toBeUndefined();
      expect(explicitFalse.status).toBe(200);
    });

    it('lets admins list soft-deleted products, with their deletion time', async () => {
      const res = await server.graphql<Data>(
        LIST,
        { filter: { includeDeleted: true, sellerId: gid('User', owner.user) } },
        { headers: admin.headers },
      );
      expect(res.body.errors).toBeUndefined();
      const nodes = asRecord(res.body.data?.['products'], 'products')['nodes'] as Array<{ id: string; deletedAt: string | null }>;
      expect(nodes.map((node) => node.id).sort()).toEqual([gid('Product', product), gid('Product', deleted)].sort());
      expect(nodes.find((node) => node.id === gid('Product', deleted))?.deletedAt).toEqual(expect.any(String));

      const nested = await server.graphql<Data>(NESTED, { filter: { includeDeleted: true } }, { headers: admin.headers });
      expect(nested.body.errors).toBeUndefined();
      const categories = nested.body.data?.['categories'] as Array<{ id: string; products: { nodes: Array<{ id: string }> } }>;
      const ours = categories.find((entry) => entry.id === gid('Category', category));
      expect(ours?.products.nodes.map((node) => node.id)).toContain(gid('Product', deleted));

      // Without the flag even admins do not see it.
      const plain = await server.graphql<Data>(LIST, { filter: { sellerId: gid('User', owner.user) } }, { headers: admin.headers });
      const plainIds = (asRecord(plain.body.data?.['products'], 'products')['nodes'] as Array<{ id: string }>).map((node) => node.id);
      expect(plainIds).toEqual([gid('Product', product)]);
    });
  });
});

describe('auditing denials', () => {
  it('records a PERMISSION_DENIED audit event for a refused request, with actor, field and request id', async () => {
    const customer = await createAccount(server, { role: 'CUSTOMER' });
    const res = await server.graphql<Data>('{ auditEvents(first: 1) { totalCount } }', {}, { headers: customer.headers });
    expect(errorCodesOf(res)).toEqual(['FORBIDDEN']);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toEqual(expect.any(String));

    const event = await eventually(() =>
      server.db
        .selectFrom('audit_events')
        .select(['actor_id', 'action', 'request_id', 'metadata'])
        .where('action', '=', 'PERMISSION_DENIED')
        .where('actor_id', '=', customer.user.id)
        .executeTakeFirst(),
    );
    expect(event).toEqual({
      actor_id: customer.user.id,
      action: 'PERMISSION_DENIED',
      request_id: requestId,
      metadata: { field: 'Query.auditEvents', via: 'session' },
    });
  });
});

describe('order lists on User', () => {
  it('shows viewer.orders and viewer.sales to the user and their ORDERS_READ key; FORBIDDEN to a key without it and on anyone else', async () => {
    const owner = await createAccount(server, { role: 'SELLER' });
    const product = await seeder(server.db).product({ seller: owner.user, category });
    const reader = await createApiKey(server, owner, ['ORDERS_READ']);
    const catalogOnly = await createApiKey(server, owner, ['CATALOG_READ']);
    const own = '{ viewer { orders { totalCount } sales { totalCount } } }';
    for (const headers of [owner.headers, reader.headers]) {
      const res = await server.graphql<Data>(own, {}, { headers });
      expect(res.body).toEqual(expect.objectContaining({ data: { viewer: { orders: { totalCount: 0 }, sales: { totalCount: 0 } } } }));
      expect(res.body.errors).toBeUndefined();
    }
    const noScope = await server.graphql<Data>(own, {}, { headers: catalogOnly.headers });
    expect(noScope.body.data).toEqual({ viewer: { orders: null, sales: null } });
    expect(errorCodesOf(noScope)).toEqual(['FORBIDDEN', 'FORBIDDEN']);

    const others = 'query ($id: ID!) { product(id: $id) { seller { displayName orders { totalCount } } s: seller { sales { totalCount } } } }';
    for (const [headers, code] of [[(await createAccount(server)).headers, 'FORBIDDEN'], [{}, 'UNAUTHENTICATED']] as const) {
      const res = await server.graphql<Data>(others, { id: gid('Product', product) }, { headers });
      expect(res.body.data).toEqual({ product: { seller: { displayName: owner.user.display_name, orders: null }, s: { sales: null } } });
      expect(errorCodesOf(res)).toEqual([code, code]);
    }
  });
});
