import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * What GraphQL clients rely on at the HTTP level, whichever layer answers:
 * Accept negotiation (GraphQL over HTTP), one shape for UNAUTHENTICATED, and
 * a coded refusal of subscriptions.
 */
let server: TestServer;

const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
const APPLICATION_JSON = 'application/json; charset=utf-8';
/** What Apollo Client 4 and graphql-http send. */
const MODERN_ACCEPT = 'application/graphql-response+json,application/json;q=0.9';

beforeAll(async () => {
  server = await startTestServer({ captureLogs: true });
});

afterAll(async () => {
  await server.close();
});

interface RawResult {
  status: number;
  contentType: string | null;
  headers: Headers;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; extensions?: Record<string, unknown> };
}

async function post(body: string, headers: Record<string, string>): Promise<RawResult> {
  const res = await server.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body: (await res.json()) as RawResult['body'] };
}

async function get(query: string, headers: Record<string, string>): Promise<RawResult> {
  const res = await server.request(`/graphql?query=${encodeURIComponent(query)}`, { headers });
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body: (await res.json()) as RawResult['body'] };
}

describe('subscriptions', () => {
  const SUBSCRIPTION = JSON.stringify({ query: 'subscription OnOrders { myOrderUpdates { id } }' });

  it('refuses a subscription sent as a plain POST with 400 SUBSCRIPTION_NOT_SUPPORTED naming both transports, never a 500', async () => {
    const res = await post(SUBSCRIPTION, { accept: MODERN_ACCEPT });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(res.body.errors).toEqual([
      {
        message: expect.stringMatching(/^Subscriptions are not served over plain HTTP: open a WebSocket to \/graphql .* POST to \/graphql\/stream/),
        extensions: { code: 'SUBSCRIPTION_NOT_SUPPORTED', requestId: res.headers.get('x-request-id') },
      },
    ]);
  });

  it('logs a refused subscription below error level, as a client mistake', async () => {
    const res = await post(SUBSCRIPTION, { 'x-request-id': 'subscription-log-check' });
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('SUBSCRIPTION_NOT_SUPPORTED');
    const lines = server.logs.filter((line) => line['requestId'] === 'subscription-log-check');
    expect(lines.length).toBeGreaterThan(0);
    // pino levels: 50 is error.
    expect(lines.filter((line) => Number(line['level']) >= 50)).toEqual([]);
  });
});

describe('Accept negotiation on every answer', () => {
  const BAD_TOKEN = { authorization: 'Bearer not-a-token' };

  it.each([
    ['application/graphql-response+json first', MODERN_ACCEPT, GRAPHQL_RESPONSE_JSON],
    ['only application/graphql-response+json', 'application/graphql-response+json', GRAPHQL_RESPONSE_JSON],
    ['only application/json', 'application/json', APPLICATION_JSON],
    ['anything', '*/*', APPLICATION_JSON],
  ])('answers a rejected credential with the negotiated media type (Accept: %s)', async (_name, accept, expected) => {
    const res = await post(JSON.stringify({ query: '{ viewer { id } }' }), { accept, ...BAD_TOKEN });
    expect(res.status).toBe(401);
    expect(res.contentType).toBe(expected);
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', requestId: res.headers.get('x-request-id') });
  });

  it('answers without Accept with application/json', async () => {
    const res = await post(JSON.stringify({ query: '{ viewer { id } }' }), BAD_TOKEN);
    expect(res.contentType).toBe(APPLICATION_JSON);
  });

  it('gives UNAUTHENTICATED the same media type, status and shape from the authentication hook and from a resolver', async () => {
    const fromHook = await post(JSON.stringify({ query: 'mutation { logOutEverywhere(input: {}) { userErrors { code } } }' }), {
      accept: MODERN_ACCEPT,
      ...BAD_TOKEN,
    });
    const fromResolver = await post(JSON.stringify({ query: 'mutation { logOutEverywhere(input: {}) { userErrors { code } } }' }), { accept: MODERN_ACCEPT });
    for (const res of [fromHook, fromResolver]) {
      expect(res.status).toBe(401);
      expect(res.contentType).toBe(GRAPHQL_RESPONSE_JSON);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="marketplace-api"/);
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', requestId: res.headers.get('x-request-id') });
      expect(res.body.extensions).toMatchObject({ requestId: res.headers.get('x-request-id') });
      expect(res.body.data ?? null).toBeNull();
    }
  });

  it('answers the CSRF refusal of a GET without a preflight header with the negotiated media type and a code', async () => {
    const modern = await get('{ __typename }', { accept: MODERN_ACCEPT });
    expect(modern.status).toBe(400);
    expect(modern.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(modern.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST', requestId: modern.headers.get('x-request-id') });
    const legacy = await get('{ __typename }', { accept: 'application/json' });
    expect(legacy.status).toBe(400);
    expect(legacy.contentType).toBe(APPLICATION_JSON);
  });

  it('answers a GET with the preflight header like a POST', async () => {
    const res = await get('{ __typename }', { accept: MODERN_ACCEPT, 'apollo-require-preflight': 'true' });
    expect(res.status).toBe(200);
    expect(res.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(res.body.data).toEqual({ __typename: 'Query' });
  });

  it('answers a batch (a JSON array) with a coded refusal in the negotiated media type', async () => {
    const batch = JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    const res = await post(batch, { accept: MODERN_ACCEPT });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST', requestId: res.headers.get('x-request-id') });
  });

  it('answers malformed JSON with a coded error in the negotiated media type', async () => {
    const res = await post('{"query": ', { accept: MODERN_ACCEPT });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST', requestId: res.headers.get('x-request-id') });
  });

  it('answers transport refusals (415, 405) in the negotiated media type', async () => {
    const unsupported = await post('{ __typename }', { accept: MODERN_ACCEPT, 'content-type': 'text/plain' });
    expect(unsupported.status).toBe(415);
    expect(unsupported.contentType).toBe(GRAPHQL_RESPONSE_JSON);
    expect(unsupported.body.errors?.[0]?.extensions).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', requestId: unsupported.headers.get('x-request-id') });
    const put = await server.request('/graphql', { method: 'PUT', headers: { accept: MODERN_ACCEPT } });
    expect(put.status).toBe(405);
    expect(put.headers.get('content-type')).toBe(GRAPHQL_RESPONSE_JSON);
  });
});
