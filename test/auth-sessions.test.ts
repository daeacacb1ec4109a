import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';
import { createAccount, createApiKey, logIn, TEST_PASSWORD, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_EMAIL_IP: '1000', LOGIN_LIMIT_PER_IP: '100000' } });
});

afterAll(async () => {
  await server.close();
});

const VIEWER = '{ viewer { id email role } }';

interface AuthPayload {
  user: { id: string; email: string; role: string } | null;
  accessToken: string | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: string | null;
  userErrors: Array<{ field: string[] | null; code: string; message: string }>;
}

const AUTH_FIELDS = 'user { id email role } accessToken refreshToken refreshTokenExpiresAt userErrors { field code message }';
const SIGN_UP = `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`;
const REFRESH = `mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { ${AUTH_FIELDS} } }`;

async function refresh(refreshToken: string | null, headers: Record<string, string> = {}) {
  const res = await server.graphql<{ refreshSession: AuthPayload }>(REFRESH, { input: refreshToken ? { refreshToken } : {} }, { headers });
  return { res, payload: res.body.data?.refreshSession as AuthPayload };
}

function bearer(token: string | null): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function expect401(res: Promise<GraphQLResult<unknown>>): Promise<void> {
  const result = await res;
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  expect(result.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
}

describe('signUp', () => {
  it('creates a customer account and signs it in', async () => {
    const res = await server.graphql<{ signUp: AuthPayload }>(SIGN_UP, {
      input: { email: 'New.Person@Example.com', password: 'a long enough password', displayName: 'New Person' },
    });
    const payload = res.body.data?.signUp as AuthPayload;
    expect(payload.userErrors).toEqual([]);
    expect(payload.user).toMatchObject({ email: 'New.Person@Example.com', role: 'CUSTOMER' });
    const me = await server.graphql(VIEWER, undefined, { headers: bearer(payload.accessToken) });
    expect(me.body.data).toEqual({ viewer: payload.user });
  });

  it('reports every problem at once, telling missing from invalid, and writes nothing', async () => {
    const res = await server.graphql<{ signUp: AuthPayload }>(SIGN_UP, { input: { email: 'not-an-email', password: 'short', displayName: '' } });
    expect(res.body.data?.signUp).toEqual({
      user: null,
      accessToken: null,
      refreshToken: null,
      refreshTokenExpiresAt: null,
      userErrors: [
        { field: ['input', 'email'], code: 'INVALID', message: expect.any(String) },
        { field: ['input', 'password'], code: 'INVALID', message: expect.any(String) },
        { field: ['input', 'displayName'], code: 'REQUIRED', message: expect.any(String) },
      ],
    });
    const count = await server.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).where('email', '=', 'not-an-email').executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it('refuses an email that differs from an existing one only in case', async () => {
    const input = { email: 'twin@example.com', password: 'a long enough password', displayName: 'Twin' };
    await server.graphql(SIGN_UP, { input });
    const res = await server.graphql<{ signUp: AuthPayload }>(SIGN_UP, { input: { ...input, email: 'TWIN@example.com' } });
    expect(res.body.data?.signUp.userErrors).toEqual([{ field: ['input', 'email'], code: 'TAKEN', message: expect.any(String) }]);
  });
});

describe('logIn', () => {
  it('answers an unknown email exactly like a wrong password', async () => {
    const account = await createAccount(server);
    const wrong = await logIn(server, account.email, 'wrong password!');
    const unknown = await logIn(server, 'nobody@example.com', 'wrong password!');
    expect(wrong.body.data).toEqual(unknown.body.data);
    expect(wrong.body.data?.logIn.userErrors).toEqual([{ field: null, code: 'INVALID_CREDENTIALS', message: expect.any(String) }]);
  });

  it('audits successful and failed logins with request id, IP and user agent', async () => {
    const account = await createAccount(server);
    const failed = await logIn(server, account.email, 'nope nope nope', { 'user-agent': 'audit-test/1.0' });
    const events = await server.db
      .selectFrom('audit_events')
      .selectAll()
      .where('request_id', 'in', [failed.headers.get('x-request-id') as string])
      .execute();
    expect(events).toEqual([
      expect.objectContaining({ action: 'LOGIN_FAILED', actor_id: null, target_id: account.user.id, ip: '127.0.0.1', user_agent: 'audit-test/1.0' }),
    ]);
    const succeeded = await server.db.selectFrom('audit_events').select('action').where('actor_id', '=', account.user.id).where('action', '=', 'LOGIN_SUCCEEDED').execute();
    expect(succeeded).toHaveLength(1);
  });

  it('sets the refresh token as a __Host- cookie for browsers and refreshes from it', async () => {
    const account = await createAccount(server);
    const res = await server.graphql<{ logIn: AuthPayload }>(
      `mutation ($input: LogInInput!) { logIn(input: $input) { ${AUTH_FIELDS} } }`,
      { input: { email: account.email, password: TEST_PASSWORD } },
      { headers: { origin: 'https://shop.example.com' } },
    );
    expect(res.body.data?.logIn.refreshToken).toBeNull();
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^__Host-refresh_token=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).not.toMatch(/Domain=/);

    const { payload, res: refreshed } = await refresh(null, { cookie: cookie.split(';')[0] as string });
    expect(payload.userErrors).toEqual([]);
    expect(payload.accessToken).toEqual(expect.any(String));
    expect(refreshed.headers.get('set-cookie')).toMatch(/^__Host-refresh_token=/);
  });
});

describe('refresh tokens', () => {
  it('rotates on every use: the new pair works, the old refresh token does not', async () => {
    const account = await createAccount(server);
    const first = await refresh(account.refreshToken);
    expect(first.payload.userErrors).toEqual([]);
    expect(first.payload.refreshToken).not.toBe(account.refreshToken);
    const me = await server.graphql(VIEWER, undefined, { headers: bearer(first.payload.accessToken) });
    expect(me.body.data).toEqual({ viewer: { id: gid('User', account.user), email: account.email, role: 'CUSTOMER' } });
    const second = await refresh(first.payload.refreshToken);
    expect(second.payload.userErrors).toEqual([]);
  });

  it('revokes the whole family when a spent refresh token is presented again, and audits it', async () => {
    const account = await createAccount(server);
    const rotated = await refresh(account.refreshToken);
    // The attacker replays the stolen, already-used token.
    const replay = await refresh(account.refreshToken);
    expect(replay.payload.userErrors).toEqual([{ field: ['input', 'refreshToken'], code: 'INVALID_CREDENTIALS', message: expect.any(String) }]);
    // The legitimate client's newer token is now dead too, and so is its access token.
    const legit = await refresh(rotated.payload.refreshToken);
    expect(legit.payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    await expect401(server.graphql(VIEWER, undefined, { headers: bearer(rotated.payload.accessToken) }));
    const audit = await server.db.selectFrom('audit_events').select('action').where('actor_id', '=', account.user.id).where('action', '=', 'REFRESH_TOKEN_REUSED').execute();
    expect(audit).toHaveLength(1);
  });

  it('lets only one of two concurrent refreshes with the same token succeed', async () => {
    const account = await createAccount(server);
    const results = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)]);
    const ok = results.filter((r) => r.payload.userErrors.length === 0);
    expect(ok.length).toBeLessThanOrEqual(1);
  });

  it('rejects a malformed, unknown or missing refresh token without an error', async () => {
    for (const token of ['short', 'x'.repeat(43)]) {
      const { payload } = await refresh(token);
      expect(payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    }
    expect((await refresh(null)).payload.userErrors[0]?.code).toBe('REQUIRED');
  });
});

describe('sessions', () => {
  const SESSIONS = '{ viewer { sessions { id current userAgent } } }';

  it('lists the viewer\'s sessions and revokes one of them', async () => {
    const account = await createAccount(server);
    const other = await logIn(server, account.email, TEST_PASSWORD, { 'user-agent': 'second-device' });
    const list = await server.graphql<{ viewer: { sessions: Array<{ id: string; current: boolean; userAgent: string }> } }>(SESSIONS, undefined, { headers: account.headers });
    const sessions = list.body.data?.viewer.sessions ?? [];
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const second = sessions.find((s) => s.userAgent === 'second-device');
    const revoked = await server.graphql<{ revokeSession: { session: { id: string } | null; userErrors: unknown[] } }>(
      'mutation ($input: RevokeSessionInput!) { revokeSession(input: $input) { session { id } userErrors { code } } }',
      { input: { sessionId: second?.id } },
      { headers: account.headers },
    );
    expect(revoked.body.data?.revokeSession).toEqual({ session: { id: second?.id }, userErrors: [] });
    const secondToken = other.body.data?.logIn.accessToken ?? null;
    await expect401(server.graphql(VIEWER, undefined, { headers: bearer(secondToken) }));
    expect((await refresh(other.body.data?.logIn.refreshToken ?? null)).payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
  });

  it('logOut ends the current session: its refresh and access tokens stop working', async () => {
    const account = await createAccount(server);
    const res = await server.graphql<{ logOut: { endedSessions: number } }>('mutation { logOut(input: {}) { endedSessions userErrors { code } } }', undefined, { headers: account.headers });
    expect(res.body.data?.logOut.endedSessions).toBe(1);
    await expect401(server.graphql(VIEWER, undefined, { headers: account.headers }));
    expect((await refresh(account.refreshToken)).payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
  });

  it('logOutEverywhere ends every session and invalidates every access token at once', async () => {
    const account = await createAccount(server);
    const second = await logIn(server, account.email, TEST_PASSWORD);
    const res = await server.graphql<{ logOutEverywhere: { endedSessions: number } }>(
      'mutation { logOutEverywhere(input: {}) { endedSessions userErrors { code } } }',
      undefined,
      { headers: account.headers },
    );
    expect(res.body.data?.logOutEverywhere.endedSessions).toBe(2);
    await expect401(server.graphql(VIEWER, undefined, { headers: account.headers }));
    await expect401(server.graphql(VIEWER, undefined, { headers: bearer(second.body.data?.logIn.accessToken ?? null) }));
    expect((await refresh(second.body.data?.logIn.refreshToken ?? null)).payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
  });

  it('changePassword checks the current password, then ends every session', async () => {
    const account = await createAccount(server);
    const CHANGE = 'mutation ($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } userErrors { field code } } }';
    const wrong = await server.graphql(CHANGE, { input: { currentPassword: 'not it at all', newPassword: 'a brand new password' } }, { headers: account.headers });
    expect(wrong.body.data).toEqual({ changePassword: { user: null, userErrors: [{ field: ['input', 'currentPassword'], code: 'INVALID_CREDENTIALS' }] } });
    const ok = await server.graphql(CHANGE, { input: { currentPassword: TEST_PASSWORD, newPassword: 'a brand new password' } }, { headers: account.headers });
    expect(ok.body.data).toEqual({ changePassword: { user: { id: gid('User', account.user) }, userErrors: [] } });
    await expect401(server.graphql(VIEWER, undefined, { headers: account.headers }));
    expect((await logIn(server, account.email, TEST_PASSWORD)).body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    expect((await logIn(server, account.email, 'a brand new password')).body.data?.logIn.userErrors).toEqual([]);
  });
});

describe('admin changes take effect on the next request', () => {
  let admin: Account;
  beforeAll(async () => {
    admin = await createAccount(server, { role: 'ADMIN' });
  });

  it('a role change applies to a token that is still valid', async () => {
    const customer = await createAccount(server);
    const SET_ROLE = 'mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { user { role } userErrors { code } } }';
    const res = await server.graphql(SET_ROLE, { input: { userId: gid('User', customer.user), role: 'SELLER' } }, { headers: admin.headers });
    expect(res.body.data).toEqual({ setUserRole: { user: { role: 'SELLER' }, userErrors: [] } });
    const me = await server.graphql<{ viewer: { role: string } }>(VIEWER, undefined, { headers: customer.headers });
    expect(me.body.data?.viewer.role).toBe('SELLER');
    const audit = await server.db.selectFrom('audit_events').select(['action', 'metadata']).where('target_id', '=', customer.user.id).where('action', '=', 'ROLE_CHANGED').executeTakeFirstOrThrow();
    expect(audit.metadata).toEqual({ from: 'CUSTOMER', to: 'SELLER' });
  });

  it('deactivation locks the user out: tokens, refresh tokens, API keys and password', async () => {
    const victim = await createAccount(server);
    const key = await createApiKey(server, victim, ['CATALOG_READ']);
    const res = await server.graphql(
      'mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { deactivatedAt } userErrors { code } } }',
      { input: { userId: gid('User', victim.user) } },
      { headers: admin.headers },
    );
    expect(res.body.errors).toBeUndefined();
    await expect401(server.graphql(VIEWER, undefined, { headers: victim.headers }));
    await expect401(server.graphql(VIEWER, undefined, { headers: key.headers }));
    expect((await refresh(victim.refreshToken)).payload.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    expect((await logIn(server, victim.email, TEST_PASSWORD)).body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
  });

  it('lists audit events newest first, filtered by actor, action and time range', async () => {
    const someone = await createAccount(server);
    await logIn(server, someone.email, 'wrong password here');
    const AUDIT = `query ($filter: AuditEventFilter) { auditEvents(filter: $filter, first: 10) {
      totalCount nodes { action actor { id } targetType targetId requestId ip occurredAt metadata } } }`;
    const byActor = await server.graphql<{ auditEvents: { totalCount: number; nodes: Array<{ action: string; occurredAt: string }> } }>(
      AUDIT,
      { filter: { actorId: gid('User', someone.user) } },
      { headers: admin.headers },
    );
    expect(byActor.body.data?.auditEvents.nodes.map((n) => n.action)).toEqual(['LOGIN_SUCCEEDED']);
    const failed = await server.graphql<{ auditEvents: { nodes: Array<{ action: string; targetId: string; metadata: Record<string, unknown> }> } }>(
      AUDIT,
      { filter: { action: 'LOGIN_FAILED', occurredAfter: new Date(Date.now() - 60_000).toISOString() } },
      { headers: admin.headers },
    );
    expect(failed.body.data?.auditEvents.nodes).toContainEqual(expect.objectContaining({ targetId: gid('User', someone.user), metadata: { email: someone.email.toLowerCase() } }));
    const none = await server.graphql<{ auditEvents: { totalCount: number } }>(AUDIT, { filter: { occurredBefore: '2000-01-01T00:00:00Z' } }, { headers: admin.headers });
    expect(none.body.data?.auditEvents.totalCount).toBe(0);
  });
});

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
