/**
 * Accounts and sessions over HTTP: sign-up, log-in (and its audit), refresh
 * tokens (rotation, reuse detection, races), listing and ending sessions, and
 * admin changes taking effect on the next request. API keys and bad
 * credentials: auth-api-keys.test.ts.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey, logIn, TEST_PASSWORD, type Account } from './helpers/auth.js';
import { gid } from './helpers/seed.js';
import { server, VIEWER, type AuthPayload, AUTH_FIELDS, SIGN_UP, refresh, bearer, expect401, startAuthServer } from './helpers/auth-sessions.js';

startAuthServer();

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
