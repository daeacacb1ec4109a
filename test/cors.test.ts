import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type TestServer } from './helpers/server.js';

describe('CORS', () => {
  let open: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    [open, closed] = await Promise.all([startTestServer({ env: { CORS_ORIGINS: 'https://shop.example.com' } }), startTestServer()]);
  });

  afterAll(async () => {
    await Promise.all([open.close(), closed.close()]);
  });

  const preflight = (server: TestServer, origin: string) =>
    server.request('/graphql', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });

  it('lets a listed origin call the API with credentials', async () => {
    const res = await preflight(open, 'https://shop.example.com');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const query = await open.graphql('{ __typename }', undefined, { headers: { origin: 'https://shop.example.com' } });
    expect(query.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
  });

  it('gives an unlisted origin no CORS headers, and none at all when CORS_ORIGINS is unset', async () => {
    expect((await preflight(open, 'https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(closed, 'https://shop.example.com')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('passes the preflight of a request with the headers Apollo Client, urql and tracing add', async () => {
    const sent = [
      'content-type',
      'authorization',
      'apollographql-client-name',
      'apollographql-client-version',
      'apollo-require-preflight',
      'x-apollo-operation-name',
      'traceparent',
      'idempotency-key',
    ];
    const res = await open.request('/graphql', {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': sent.join(', ') },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(',').map((name) => name.trim());
    // A browser fails the preflight when any header it asked for is missing from this list.
    expect(sent.filter((name) => !allowed.includes(name))).toEqual([]);
  });

  it('allows exactly the headers CORS_ALLOWED_HEADERS lists, when set', async () => {
    const custom = await startTestServer({
      env: { CORS_ORIGINS: 'https://shop.example.com', CORS_ALLOWED_HEADERS: 'Content-Type, authorization, x-shop-tenant' },
    });
    try {
      const res = await preflight(custom, 'https://shop.example.com');
      expect(res.headers.get('access-control-allow-headers')).toBe('content-type, authorization, x-shop-tenant');
    } finally {
      await custom.close();
    }
  });

  it('rejects a malformed header list at start-up, naming the variable', async () => {
    await expect(startTestServer({ env: { CORS_ALLOWED_HEADERS: 'content-type, *' } })).rejects.toThrow(/CORS_ALLOWED_HEADERS/);
  });

  it('rejects a malformed origin list at start-up, naming the variable', async () => {
    await expect(startTestServer({ env: { CORS_ORIGINS: 'https://shop.example.com/path' } })).rejects.toThrow(/CORS_ORIGINS/);
  });
});
