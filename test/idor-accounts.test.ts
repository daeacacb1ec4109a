/**
 * Accounts and users: sessions, API keys, audit events, private profile fields.
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
import { server, query, asRecord, errorSummary, expectSameAsMissing, REFRESH, currentSessionId, startIdorServer, type Headers } from './helpers/idor.js';

startIdorServer();

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
