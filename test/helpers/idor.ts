/**
 * Shared by the IDOR test files (idor-accounts, idor-catalog, idor-orders):
 * one server per file, and the check that another user's id is answered
 * exactly as a missing id.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';

import { type Account } from './auth.js';
import { startTestServer, type GraphQLResult, type TestServer } from './server.js';

/** The server of the IDOR test files, started by `startIdorServer`. */
export let server: TestServer;

/** Starts the server before the file's tests and closes it after them. */
export function startIdorServer(): void {
  beforeAll(async () => {
    // Many log-ins from one IP: lift the brute-force budget so it does not get in the way.
    server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  });
  afterAll(async () => {
    await server.close();
  });
}
export type Data = Record<string, unknown>;
export type Headers = Record<string, string>;

export function query(document: string, variables: Data, headers: Headers): Promise<GraphQLResult<Data>> {
  return server.graphql<Data>(document, variables, { headers });
}

export function asRecord(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not an object: ${JSON.stringify(value)}`);
  }
  return value as Data;
}

export function errorSummary(res: GraphQLResult<Data>): Array<{ path: unknown; code: unknown }> {
  return (res.body.errors ?? []).map((error) => ({ path: error.path, code: error.extensions?.['code'] }));
}

/** Asks the same document with someone else's id and with a missing id; both answers must be identical. */
export async function expectSameAsMissing(document: string, othersId: string, missing: string, headers: Headers, expected: Data): Promise<void> {
  const others = await query(document, { id: othersId }, headers);
  const absent = await query(document, { id: missing }, headers);
  expect(others.status).toBe(absent.status);
  expect(others.body.errors).toEqual(absent.body.errors);
  expect(others.body.data).toEqual(absent.body.data);
  expect(others.body.data).toEqual(expected);
  expect(others.body.errors).toBeUndefined();
}

export const REFRESH = `mutation ($input: RefreshSessionInput!) {
  refreshSession(input: $input) { accessToken refreshToken userErrors { field code message } }
}`;

export async function currentSessionId(account: Account): Promise<string> {
  const res = await query('{ viewer { sessions { id current } } }', {}, account.headers);
  const sessions = asRecord(res.body.data?.['viewer'], 'viewer')['sessions'] as Array<{ id: string; current: boolean }>;
  const current = sessions.find((session) => session.current);
  if (!current) throw new Error(`no current session: ${JSON.stringify(res.body)}`);
  return current.id;
}
