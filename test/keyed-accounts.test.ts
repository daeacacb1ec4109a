/**
 * Account mutations with an Idempotency-Key, over HTTP. The idempotency
 * edge runs a keyed mutation's whole execution in one unit of work;
 * `refreshSession` and a failed `logIn` each commit a write of their own
 * inside it (a `detached` unit: the reuse revocation, the failed-login audit
 * event), which must neither fail the request nor wait for the edge's unit.
 * The server lets a request hold a single pool connection
 * (DATABASE_POOL_MAX_PER_REQUEST=1), the tightest setting: the detached
 * transaction gets its second connection without waiting for the first.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, LOG_IN, type Account } from './helpers/auth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { DATABASE_POOL_MAX_PER_REQUEST: '1', LOGIN_LIMIT_PER_EMAIL_IP: '1000', LOGIN_LIMIT_PER_IP: '100000' },
  });
});

afterAll(async () => {
  await server.close();
});

const REFRESH = `mutation ($input: RefreshSessionInput!) {
  refreshSession(input: $input) { accessToken refreshToken user { id } userErrors { field code } }
}`;

interface RefreshPayload {
  accessToken: string | null;
  refreshToken: string | null;
  user: { id: string } | null;
  userErrors: Array<{ field: string[] | null; code: string }>;
}

interface LogInPayload {
  accessToken: string | null;
  user: { id: string } | null;
  userErrors: Array<{ field: string[] | null; code: string }>;
}

function keyed(account: Account, key: string): Record<string, string> {
  return { ...account.headers, 'idempotency-key': key };
}

async function refreshWithKey(account: Account, refreshToken: string, key: string) {
  return server.graphql<{ refreshSession: RefreshPayload }>(REFRESH, { input: { refreshToken } }, { headers: keyed(account, key) });
}

async function storedKey(account: Account, key: string) {
  return server.db
    .selectFrom('idempotency_keys')
    .select(['status', 'response_status'])
    .where('principal', '=', account.user.id)
    .where('key', '=', key)
    .execute();
}

describe('refreshSession with an Idempotency-Key', () => {
  it('rotates the refresh token sent in the payload, for a caller signed in with an access token, and stores the answer', async () => {
    const account = await createAccount(server);
    const res = await refreshWithKey(account, account.refreshToken, 'refresh-1');
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const payload = res.body.data?.refreshSession;
    expect(payload).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), user: { id: expect.any(String) }, userErrors: [] });
    expect(payload?.refreshToken).not.toBe(account.refreshToken);
    expect(await storedKey(account, 'refresh-1')).toEqual([{ status: 'COMPLETED', response_status: 200 }]);

    // The same key again is the stored answer, not a second rotation (which would look like reuse).
    const again = await refreshWithKey(account, account.refreshToken, 'refresh-1');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data?.refreshSession).toEqual(payload);
    const rotated = await server.graphql<{ refreshSession: RefreshPayload }>(REFRESH, { input: { refreshToken: payload?.refreshToken } });
    expect(rotated.body.data?.refreshSession.userErrors).toEqual([]);
  });

  it('revokes the family on reuse of a rotated token, and the revocation stays committed', async () => {
    const account = await createAccount(server);
    const first = await refreshWithKey(account, account.refreshToken, 'reuse-rotate');
    const next = first.body.data?.refreshSession.refreshToken;
    expect(next).toEqual(expect.any(String));

    const reused = await refreshWithKey(account, account.refreshToken, 'reuse-again');
    expect(reused.status).toBe(200);
    expect(reused.body.data?.refreshSession).toMatchObject({ accessToken: null, userErrors: [{ code: 'INVALID_CREDENTIALS' }] });
    const sessions = await server.db.selectFrom('sessions').select(['revoked_reason']).where('user_id', '=', account.user.id).execute();
    expect(sessions.map((session) => session.revoked_reason)).toEqual(['REUSE_DETECTED', 'REUSE_DETECTED']);
    const audit = await server.db.selectFrom('audit_events').select('action').where('actor_id', '=', account.user.id).where('action', '=', 'REFRESH_TOKEN_REUSED').execute();
    expect(audit).toHaveLength(1);
    // The token it was rotated to died with its family.
    const afterwards = await server.graphql<{ refreshSession: RefreshPayload }>(REFRESH, { input: { refreshToken: next } });
    expect(afterwards.body.data?.refreshSession.userErrors).toEqual([{ field: ['input', 'refreshToken'], code: 'INVALID_CREDENTIALS' }]);
  });
});

describe('logIn with an Idempotency-Key', () => {
  it('answers a wrong password with INVALID_CREDENTIALS, not a server error, and keeps the failed-login audit event', async () => {
    const account = await createAccount(server);
    const res = await server.graphql<{ logIn: LogInPayload }>(
      LOG_IN,
      { input: { email: account.email, password: 'not the password at all', refreshTokenDelivery: 'PAYLOAD' } },
      { headers: keyed(account, 'login-wrong') },
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.logIn).toMatchObject({ accessToken: null, user: null, userErrors: [{ code: 'INVALID_CREDENTIALS' }] });
    const failures = await server.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', account.user.id)
      .where('action', '=', 'LOGIN_FAILED')
      .execute();
    expect(failures).toHaveLength(1);
    expect(await storedKey(account, 'login-wrong')).toEqual([{ status: 'COMPLETED', response_status: 200 }]);
  });

  it('signs in with the right password', async () => {
    const account = await createAccount(server);
    const res = await server.graphql<{ logIn: LogInPayload }>(
      LOG_IN,
      { input: { email: account.email, password: account.password, refreshTokenDelivery: 'PAYLOAD' } },
      { headers: keyed(account, 'login-right') },
    );
    expect(res.status).toBe(200);
    expect(res.body.data?.logIn).toMatchObject({ accessToken: expect.any(String), user: { id: expect.any(String) }, userErrors: [] });
  });
});
