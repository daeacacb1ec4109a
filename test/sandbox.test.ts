import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { GRAPHQL_RESPONSE_JSON, startTestServer, type TestServer } from './helpers/server.js';

describe('Apollo Sandbox landing page', () => {
  let dev: TestServer;
  let prod: TestServer;

  beforeAll(async () => {
    [dev, prod] = await Promise.all([
      startTestServer({ env: { GRAPHQL_SANDBOX: 'true', GRAPHQL_INTROSPECTION: 'true' } }),
      startTestServer({ env: { NODE_ENV: 'production', LOG_FORMAT: 'json', JWT_SIGNING_KEYS: await generateSigningJwks() } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([dev.close(), prod.close()]);
  });

  it('serves the Sandbox page to browsers when enabled', async () => {
    const res = await dev.request('/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/sandbox/i);
    // Its own script decides between Sandbox and the GraphiQL fallback; no inline script.
    expect(html).toContain('<script src="/graphiql/sandbox.js"></script>');
    expect(html).not.toMatch(/<script>/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' https://embeddable-sandbox.cdn.apollographql.com;");
    expect(csp).toContain('frame-src https://sandbox.embed.apollographql.com;');
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('serves the GraphiQL fallback files with Sandbox, and none when the IDE is off', async () => {
    for (const file of ['sandbox.js', 'graphiql.min.js', 'react.production.min.js', 'init.js']) {
      const res = await dev.request(`/graphiql/${file}`);
      expect({ file, status: res.status, type: res.headers.get('content-type') }).toEqual({ file, status: 200, type: 'text/javascript; charset=utf-8' });
    }
    const off = await prod.request('/graphiql/sandbox.js');
    expect(off.status).toBe(404);
  });

  it('does not serve Sandbox in production by default', async () => {
    const res = await prod.request('/graphql', { headers: { accept: 'text/html' } });
    const html = await res.text();
    expect(html).not.toMatch(/embeddable-sandbox|EmbeddedSandbox/);
  });

  it('allows introspection when enabled and refuses it in production by default', async () => {
    const query = '{ __schema { queryType { name } } }';
    const open = await dev.graphql(query);
    expect(open.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const closed = await prod.graphql(query, undefined, { headers: GRAPHQL_RESPONSE_JSON });
    expect(closed.status).toBe(400);
    expect(closed.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
