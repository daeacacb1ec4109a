/**
 * Signed-in callers for tests: accounts are inserted directly (with a real
 * argon2 hash), then signed in through the public `logIn` mutation, so the
 * tokens are exactly what a client would hold.
 */
import { hashPassword } from '../../src/auth/passwords.js';
import type { UserRole, UserRow } from '../../src/modules/users/user.table.js';
import type { TestServer } from './server.js';
import { seeder } from './seed.js';

export const TEST_PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

export interface Account {
  user: UserRow;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** `Authorization: Bearer <access token>`. */
  headers: Record<string, string>;
}

interface AuthPayload {
  accessToken: string | null;
  refreshToken: string | null;
  userErrors: Array<{ code: string; field: string[] | null; message: string }>;
}

export const LOG_IN = `mutation ($input: LogInInput!) {
  logIn(input: $input) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { id email role } userErrors { field code message } }
}`;

export async function logIn(server: TestServer, email: string, password: string, headers: Record<string, string> = {}) {
  return server.graphql<{ logIn: AuthPayload & { user: { id: string; email: string; role: string } | null } }>(
    LOG_IN,
    { input: { email, password, refreshTokenDelivery: 'PAYLOAD' } },
    { headers },
  );
}

/** A user of the given role, signed in with a session (access + refresh token). */
export async function createAccount(server: TestServer, options: { role?: UserRole; displayName?: string } = {}): Promise<Account> {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const user = await seeder(server.db).user({ role: options.role ?? 'CUSTOMER', displayName: options.displayName });
  await server.db.updateTable('users').set({ password_hash: await passwordHash }).where('id', '=', user.id).execute();
  const res = await logIn(server, user.email, TEST_PASSWORD);
  const payload = res.body.data?.logIn;
  if (!payload?.accessToken || !payload.refreshToken) {
    throw new Error(`logIn failed for the test account: ${JSON.stringify(res.body)}`);
  }
  return {
    user,
    email: user.email,
    password: TEST_PASSWORD,
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    headers: { authorization: `Bearer ${payload.accessToken}` },
  };
}

export const CREATE_API_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { plaintextKey apiKey { id name prefix scopes expiresAt } userErrors { field code message } }
}`;

/** An API key of the account with the given scopes; returns its Authorization headers and global id. */
export async function createApiKey(server: TestServer, account: Account, scopes: string[]): Promise<{ headers: Record<string, string>; id: string; key: string }> {
  const res = await server.graphql<{ createApiKey: { plaintextKey: string | null; apiKey: { id: string } | null } }>(
    CREATE_API_KEY,
    { input: { name: `key ${scopes.join(' ')}`, scopes } },
    { headers: account.headers },
  );
  const created = res.body.data?.createApiKey;
  if (!created?.plaintextKey || !created.apiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.body)}`);
  return { headers: { authorization: `Bearer ${created.plaintextKey}` }, id: created.apiKey.id, key: created.plaintextKey };
}
