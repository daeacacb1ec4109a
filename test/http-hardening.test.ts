import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { auditServer } from 'graphql-http';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { GRAPHQL_RESPONSE_JSON, startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';

let dev: TestServer;
let prod: TestServer;

beforeAll(async () => {
  [dev, prod] = await Promise.all([
    startTestServer({ env: { NODE_ENV: 'development', LOG_FORMAT: 'json', REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '1000', BODY_LIMIT_BYTES: '2048' } }),
    startTestServer({ env: { NODE_ENV: 'production', LOG_FORMAT: 'json', JWT_SIGNING_KEYS: await generateSigningJwks() } }),
  ]);
});

afterAll(async () => {
  await Promise.all([dev.close(), prod.close()]);
});

/** Library and engine names or texts that must never reach a client (header names such as apollo-require-preflight are API). */
const INTERNAL_TEXT = /Apollo|Fastify|fastify|graphql-js|call stack|stack trace|at .+\.js|Did you mean/;

async function expectCoded(res: Response, status: number, code: string): Promise<GraphQLResponse<unknown>> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  const body = JSON.parse(text) as GraphQLResponse<unknown>;
  const requestId = res.headers.get('x-request-id');
  expect(requestId).toBeTruthy();
  expect(body.errors?.[0]?.extensions).toMatchObject({ code, requestId });
  expect(body.extensions?.['requestId']).toBe(requestId);
  expect(body.errors?.[0]?.message).not.toMatch(INTERNAL_TEXT);
  return body;
}

function post(server: TestServer, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return server.request('/graphql', { method: 'POST', headers, body });
}

describe('every error path answers a coded body with the request id', () => {
  it.each([
    ['a batch', '[{"query":"{ __typename }"},{"query":"{ __typename }"}]'],
    ['an empty object', '{}'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"{ __typename }"'],
    ['a non-string query', '{"query":{"kind":"Document"}}'],
    ['variables as a string', '{"query":"{ __typename }","variables":"{}"}'],
    ['variables as an array', '{"query":"{ __typename }","variables":[]}'],
    ['a non-string operationName', '{"query":"{ __typename }","operationName":7}'],
    ['invalid JSON', '{"query": '],
  ])('refuses %s with BAD_REQUEST', async (_name, body) => {
    await expectCoded(await post(dev, body), 400, 'BAD_REQUEST');
  });

  it('refuses a body over the limit with PAYLOAD_TOO_LARGE', async () => {
    await expectCoded(await post(dev, JSON.stringify({ query: `{ __typename } #${'x'.repeat(4096)}` })), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses other media types with UNSUPPORTED_MEDIA_TYPE', async () => {
    await expectCoded(await post(dev, 'query={__typename}', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectCoded(await post(dev, '{"query":"{ __typename }"}', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers other methods on /graphql with 405 and Allow', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await dev.request('/graphql', { method, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.headers.get('allow')).toBe('GET, POST');
      await expectCoded(res, 405, 'METHOD_NOT_ALLOWED');
    }
  });

  it('answers a header Node cannot parse with a coded body and X-Request-Id', async () => {
    const raw = await rawExchange(dev, 'GET /graphql HTTP/1.1\r\nHost: x\r\nBad Header: yes\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    const requestId = /x-request-id: (\S+)/i.exec(raw)?.[1];
    expect(requestId).toBeTruthy();
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as GraphQLResponse<unknown>;
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST', requestId });
  });

  it('drops a request whose body arrives too slowly with 408 REQUEST_TIMEOUT', async () => {
    // Headers promise 100 bytes; 10 arrive; REQUEST_TIMEOUT_MS is 1 s here.
    const raw = await rawExchange(
      dev,
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(raw).toMatch(/"code":"REQUEST_TIMEOUT"/);
  });

  it('answers a refused cross-site GET (CSRF prevention) with a code', async () => {
    await expectCoded(await dev.request('/graphql?query=%7B__typename%7D'), 400, 'BAD_REQUEST');
  });
});

/** Writes `request` on a raw socket and resolves with everything the server sent before closing. */
function rawExchange(server: TestServer, request: string): Promise<string> {
  const url = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('the server kept the connection open')));
    socket.write(request);
  });
}

describe('CSRF prevention', () => {
  it('blocks a form POST', async () => {
    const res = await post(dev, 'query=mutation%7BlogOutEverywhere(input%3A%7B%7D)%7BendedSessions%7D%7D', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(415);
  });

  it('blocks a mutation sent with GET, with or without a preflight header', async () => {
    const query = encodeURIComponent('mutation { logOutEverywhere(input: {}) { endedSessions } }');
    await expectCoded(await dev.request(`/graphql?query=${query}`), 400, 'BAD_REQUEST');
    const res = await dev.request(`/graphql?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.headers.get('allow')).toBe('POST');
    await expectCoded(res, 405, 'METHOD_NOT_ALLOWED');
  });
});

describe('security headers', () => {
  it('sends helmet headers and a strict CSP on API responses', async () => {
    const res = await dev.graphql('{ __typename }');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  });

  it('serves the Sandbox page with a CSP that lets it load from Apollo’s CDN and forbids framing', async () => {
    const res = await dev.request('/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src [^;]*https:\/\/embeddable-sandbox\.cdn\.apollographql\.com/);
    expect(csp).toMatch(/frame-src [^;]*https:\/\/sandbox\.embed\.apollographql\.com/);
    const html = await res.text();
    // The page's scripts are this origin's; the one that loads Sandbox names only the host script-src allows (above).
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map(([, src]) => src);
    expect(scripts).toEqual(['/graphiql/sandbox.js']);
    const loader = await (await dev.request('/graphiql/sandbox.js')).text();
    const hosts = [...loader.matchAll(/"(https:\/\/[^/"]+)\//g)].map(([, host]) => host);
    expect(hosts).toEqual(['https://embeddable-sandbox.cdn.apollographql.com']);
  });
});

describe('production mode', () => {
  it('refuses introspection without naming the server library', async () => {
    const res = await prod.graphql('{ __schema { queryType { name } } }', undefined, { headers: GRAPHQL_RESPONSE_JSON });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.body.errors?.[0]?.message).toMatch(/introspection/i);
    expect(JSON.stringify(res.body)).not.toMatch(INTERNAL_TEXT);
  });

  it('suggests no names, in documents or in variables', async () => {
    const field = await prod.graphql('{ prodcts { totalCount } }');
    const variable = await prod.graphql('query ($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: { serach: 'x' } });
    for (const res of [field, variable]) {
      expect(res.body.errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(res.body)).not.toMatch(/Did you mean|"search"|"products"/);
    }
    // Development keeps the hints.
    const hinted = await dev.graphql('query ($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: { serach: 'x' } });
    expect(JSON.stringify(hinted.body)).toMatch(/Did you mean/);
  });

  it('serves no landing page', async () => {
    const res = await prod.request('/graphql', { headers: { accept: 'text/html' } });
    expect(await res.text()).not.toMatch(/sandbox/i);
  });

  it('masks engine failures: 3,003 nested levels get a coded error and no stack text', async () => {
    const res = await prod.graphql(`${'{a'.repeat(3003)}${'}'.repeat(3003)}`);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('QUERY_TOO_COMPLEX');
    expect(JSON.stringify(res.body)).not.toMatch(INTERNAL_TEXT);
  });

  it('sends security headers', async () => {
    const res = await prod.graphql('{ __typename }');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('GraphQL over HTTP', () => {
  it('answers parse, validation and coercion failures with 200 to application/json clients and 400 to graphql-response+json ones', async () => {
    const cases: Array<[string, object | undefined]> = [
      ['{ products(first: ) }', undefined],
      ['{ nope }', undefined],
      ['query ($n: Int) { products(first: $n) { totalCount } }', { n: 'ten' }],
    ];
    for (const [query, variables] of cases) {
      const json = await dev.graphql(query, variables);
      expect(json.status).toBe(200);
      expect(json.headers.get('content-type')).toMatch(/^application\/json/);
      const modern = await dev.graphql(query, variables, { headers: GRAPHQL_RESPONSE_JSON });
      expect(modern.status).toBe(400);
      expect(modern.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    }
  });

  it('passes graphql-http’s server audit with no warnings and no errors', async () => {
    const results = await auditServer({ url: `${dev.baseUrl}/graphql` });
    // Notices (MAY) remain where CSRF prevention deliberately refuses a GET without a preflight header.
    const problems = results
      .filter((r) => r.status === 'warn' || r.status === 'error')
      .map((r) => `${r.status} ${r.id} ${r.name}: ${'reason' in r ? r.reason : ''}`);
    expect(problems).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
  });
});
