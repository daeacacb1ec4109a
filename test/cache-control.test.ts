import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount } from './helpers/auth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('Cache-Control on GraphQL responses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('tells every cache not to store an anonymous response', async () => {
    const res = await server.graphql('{ products(first: 1) { totalCount } }');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('marks a signed-in response private as well as not to be stored', async () => {
    const account = await createAccount(server);
    const res = await server.graphql('{ viewer { id } }', undefined, { headers: account.headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
  });

  it('does not store an anonymous response that carries errors either', async () => {
    const res = await server.graphql('{ product(id: "not-an-id") { id } }');
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
