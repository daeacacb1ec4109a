/**
 * Shared by the authentication test files (auth-sessions, auth-api-keys):
 * one server per file, the sign-in payload and its mutations, and the 401
 * check.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';

import { startTestServer, type GraphQLResult, type TestServer } from './server.js';

/** The server of the authentication test files, started by `startAuthServer`. */
export let server: TestServer;

/** Starts the server (login limits lifted) before the file's tests and closes it after them. */
export function startAuthServer(): void {
  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_LIMIT_PER_EMAIL_IP: '1000', LOGIN_LIMIT_PER_IP: '100000' } });
  });
  afterAll(async () => {
    await server.close();
  });
}

export const VIEWER = '{ viewer { id email role } }';

export interface AuthPayload {
  user: { id: string; email: string; role: string } | null;
  accessToken: string | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: string | null;
  userErrors: Array<{ field: string[] | null; code: string; message: string }>;
}

export const AUTH_FIELDS = 'user { id email role } accessToken refreshToken refreshTokenExpiresAt userErrors { field code message }';
export const SIGN_UP = `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`;
export const REFRESH = `mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { ${AUTH_FIELDS} } }`;

export async function refresh(refreshToken: string | null, headers: Record<string, string> = {}) {
  const res = await server.graphql<{ refreshSession: AuthPayload }>(REFRESH, { input: refreshToken ? { refreshToken } : {} }, { headers });
  return { res, payload: res.body.data?.refreshSession as AuthPayload };
}

export function bearer(token: string | null): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export async function expect401(res: Promise<GraphQLResult<unknown>>): Promise<void> {
  const result = await res;
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  expect(result.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
}
