/**
 * API keys over HTTP: shown once, scoped, never carrying admin rights,
 * revoked or expired at once, names under the plain-text policy; and bad
 * credentials of any kind are 401, never anonymous.
 */
import { describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { server, VIEWER, bearer, expect401, startAuthServer } from './helpers/auth-sessions.js';

startAuthServer();

describe('API keys', () => {
  it('shows the key once, authenticates with it, and records last use without a write per request', async () => {
    const account = await createAccount(server);
    const key = await createApiKey(server, account, ['CATALOG_READ']);
    expect(key.key).toMatch(/^mk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const stored = await server.db.selectFrom('api_keys').selectAll().where('user_id', '=', account.user.id).executeTakeFirstOrThrow();
    // The secret is base64url, so it may itself contain '_': take everything after the prefix.
    const secret = key.key.slice('mk_'.length + 12 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(stored)).not.toContain(secret);
    for (let i = 0; i < 3; i += 1) {
      const res = await server.graphql('{ products(first: 1) { totalCount } }', undefined, { headers: key.headers });
      expect(res.body.errors).toBeUndefined();
    }
    // The use is recorded off the request path (after the response may already be sent): poll briefly.
    let lastUsedAt: Date | null = null;
    for (let attempt = 0; attempt < 40 && lastUsedAt === null; attempt += 1) {
      lastUsedAt = (await server.db.selectFrom('api_keys').select('last_used_at').where('id', '=', stored.id).executeTakeFirstOrThrow()).last_used_at;
      if (lastUsedAt === null) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(lastUsedAt).toBeInstanceOf(Date);
  });

  it('limits a key to its scopes and never to account operations', async () => {
    const account = await createAccount(server);
    const ordersOnly = await createApiKey(server, account, ['ORDERS_READ']);
    const denied = await server.graphql('{ products(first: 1) { totalCount } }', undefined, { headers: ordersOnly.headers });
    expect(denied.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const catalog = await createApiKey(server, account, ['CATALOG_READ']);
    const mint = await server.graphql(
      'mutation { createApiKey(input: { name: "x", scopes: [CATALOG_READ] }) { plaintextKey } }',
      undefined,
      { headers: catalog.headers },
    );
    expect(mint.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  });

  it('never carries admin rights: an admin\'s key cannot read other users\' private fields or the audit log', async () => {
    const admin = await createAccount(server, { role: 'ADMIN' });
    const other = await createAccount(server);
    const key = await createApiKey(server, admin, ['CATALOG_READ']);
    const email = await server.graphql('query ($id: ID!) { node(id: $id) { ... on User { email } } }', { id: gid('User', other.user) }, { headers: key.headers });
    expect(email.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const inPerson = await server.graphql('query ($id: ID!) { node(id: $id) { ... on User { email } } }', { id: gid('User', other.user) }, { headers: admin.headers });
    expect(inPerson.body.data).toEqual({ node: { email: other.email } });
    const audit = await server.graphql('{ auditEvents(first: 1) { totalCount } }', undefined, { headers: key.headers });
    expect(audit.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const draft = await seeder(server.db).product({ status: 'DRAFT' });
    const asKey = await server.graphql('query ($id: ID!) { product(id: $id) { id } }', { id: gid('Product', draft) }, { headers: key.headers });
    expect(asKey.body.data).toEqual({ product: null });
    const asAdmin = await server.graphql('query ($id: ID!) { product(id: $id) { id } }', { id: gid('Product', draft) }, { headers: admin.headers });
    expect(asAdmin.body.data).toEqual({ product: { id: gid('Product', draft) } });
  });

  it('stops working at once when revoked or expired, and a tampered key is refused', async () => {
    const account = await createAccount(server);
    const key = await createApiKey(server, account, ['CATALOG_READ']);
    const res = await server.graphql(
      'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { revokedAt } userErrors { code } } }',
      { input: { apiKeyId: key.id } },
      { headers: account.headers },
    );
    expect(res.body.data).toEqual({ revokeApiKey: { apiKey: { revokedAt: expect.any(String) }, userErrors: [] } });
    await expect401(server.graphql(VIEWER, undefined, { headers: key.headers }));

    const expiring = await createApiKey(server, account, ['CATALOG_READ']);
    await server.db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('prefix', '=', expiring.key.split('_')[1] as string).execute();
    await expect401(server.graphql(VIEWER, undefined, { headers: expiring.headers }));

    const live = await createApiKey(server, account, ['CATALOG_READ']);
    const tampered = `${live.key.slice(0, -1)}${live.key.endsWith('A') ? 'B' : 'A'}`;
    await expect401(server.graphql(VIEWER, undefined, { headers: bearer(tampered) }));
  });

  it('rejects expiry in the past or more than a year ahead, and an empty scope list', async () => {
    const account = await createAccount(server);
    const res = await server.graphql(
      'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } plaintextKey userErrors { field code } } }',
      { input: { name: '  ', scopes: [], expiresAt: '2001-01-01T00:00:00Z' } },
      { headers: account.headers },
    );
    expect(res.body.data).toEqual({
      createApiKey: {
        apiKey: null,
        plaintextKey: null,
        userErrors: [
          { field: ['input', 'name'], code: 'REQUIRED' },
          { field: ['input', 'scopes'], code: 'REQUIRED' },
          { field: ['input', 'expiresAt'], code: 'INVALID' },
        ],
      },
    });
  });
});

describe('API key names follow the plain-text policy for one line', () => {
  const CREATE = 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { name } plaintextKey userErrors { field code message } } }';
  /** The media type whose statuses follow the error code (an application/json client gets 200 for input errors). */
  const GRAPHQL_RESPONSE = { accept: 'application/graphql-response+json' };

  async function createNamed(account: Account, name: string) {
    const res = await server.graphql<{ createApiKey: { apiKey: { name: string } | null; plaintextKey: string | null; userErrors: Array<{ field: string[]; code: string; message: string }> } }>(
      CREATE,
      { input: { name, scopes: ['CATALOG_READ'] } },
      { headers: account.headers },
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.createApiKey;
  }

  async function keyCount(account: Account): Promise<number> {
    const row = await server.db.selectFrom('api_keys').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', account.user.id).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  it.each([
    { what: 'a tag', name: 'CI <b>deploy</b>', code: 'INVALID' },
    { what: 'a closing tag', name: 'deploy</script>', code: 'INVALID' },
    { what: 'a comment', name: 'CI <!-- x -->', code: 'INVALID' },
    { what: 'a line break', name: 'two\nlines', code: 'INVALID' },
    { what: 'a tab', name: 'tab\there', code: 'INVALID' },
    { what: 'only spaces', name: '   ', code: 'REQUIRED' },
    { what: '101 characters', name: 'k'.repeat(101), code: 'TOO_LONG' },
    { what: '101 code points of astral characters', name: '\u{1F511}'.repeat(101), code: 'TOO_LONG' },
  ])('refuses a key name with $what as $code at input.name and creates no key', async ({ name, code }) => {
    const account = await createAccount(server);
    expect(await createNamed(account, name)).toEqual({ apiKey: null, plaintextKey: null, userErrors: [{ field: ['input', 'name'], code, message: expect.any(String) }] });
    expect(await keyCount(account)).toBe(0);
  });

  it('says markup is the problem in the message', async () => {
    const account = await createAccount(server);
    expect((await createNamed(account, '<img src=x onerror=alert(1)>'))?.userErrors[0]?.message).toBe('The key name contains markup (like "<b>"); use plain text.');
  });

  it.each([
    { what: 'surrounding spaces (trimmed)', name: '  CI deploy  ', stored: 'CI deploy' },
    { what: 'a less-than sign that starts no tag', name: 'staging < prod <3', stored: 'staging < prod <3' },
    { what: '100 code points of astral characters', name: '\u{1F511}'.repeat(100), stored: '\u{1F511}'.repeat(100) },
  ])('accepts a key name with $what', async ({ name, stored }) => {
    const account = await createAccount(server);
    const payload = await createNamed(account, name);
    expect(payload).toMatchObject({ apiKey: { name: stored }, userErrors: [] });
    expect(payload?.plaintextKey).toEqual(expect.any(String));
    const row = await server.db.selectFrom('api_keys').select('name').where('user_id', '=', account.user.id).executeTakeFirstOrThrow();
    expect(row.name).toBe(stored);
  });

  it('refuses NUL or another control character in a key name at the edge with BAD_USER_INPUT naming input.name', async () => {
    const account = await createAccount(server);
    const asVariable = await server.graphql(CREATE, { input: { name: 'nul\u0000key', scopes: ['CATALOG_READ'] } }, { headers: { ...account.headers, ...GRAPHQL_RESPONSE } });
    const asLiteral = await server.graphql('mutation { createApiKey(input: { name: "esc\\u001bkey", scopes: [CATALOG_READ] }) { plaintextKey } }', undefined, {
      headers: { ...account.headers, ...GRAPHQL_RESPONSE },
    });
    for (const res of [asVariable, asLiteral]) {
      expect(res.status).toBe(400);
      expect(res.body.data ?? null).toBeNull();
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.name' });
    }
    expect(await keyCount(account)).toBe(0);
  });
});

describe('bad credentials are never treated as anonymous', () => {
  it.each([
    ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz'],
    ['garbage', 'Bearer not-a-token'],
    ['an unknown API key', `Bearer mk_abcdefghijkl_${'A'.repeat(43)}`],
    ['an empty bearer', 'Bearer '],
  ])('answers %s with 401 and WWW-Authenticate', async (_name, authorization) => {
    await expect401(server.graphql('{ products(first: 1) { totalCount } }', undefined, { headers: { authorization } }));
  });
});
