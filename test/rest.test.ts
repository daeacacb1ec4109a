/**
 * The REST surface's HTTP semantics (docs/guides/rest.md), over HTTP on a
 * real database: pagination with Link and GraphQL's cursors, ETag and 304,
 * problem details for refused parameters, user errors (422 with pointers),
 * 405, 404 and 415, 429 with RateLimit headers, trusted documents, the
 * shared response cache, and the OpenAPI document and reference page.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { buildSchema } from '../src/graphql/schema.js';
import { loadRestRoutes } from '../src/rest/documents.js';
import { REFERENCE_CSP } from '../src/rest/reference.js';
import { createAccount, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: Array<Record<string, unknown>>;
}

async function problemOf(response: Response): Promise<Problem> {
  expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  const problem = (await response.json()) as Problem;
  expect(problem.requestId).toBe(response.headers.get('x-request-id'));
  expect(problem.status).toBe(response.status);
  return problem;
}

describe('REST on the default configuration', () => {
  let server: TestServer;
  let customer: Account;
  const json = (headers: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...headers });

  beforeAll(async () => {
    server = await startTestServer();
    const seed = seeder(server.db);
    const category = await seed.category();
    for (let i = 0; i < 5; i++) await seed.product({ category, price: 100 * (i + 1) });
    customer = await createAccount(server);
  });

  afterAll(async () => {
    await server.close();
  });

  it('pages with Link headers carrying the same cursors as GraphQL, to the last page', async () => {
    const graphql = await server.graphql<{ products: { pageInfo: { endCursor: string } } }>('{ products(first: 2, orderBy: { field: PRICE, direction: ASC }) { pageInfo { endCursor } } }');
    let next: string | null = '/v1/products?first=2&sort=PRICE&direction=ASC';
    const pages: Array<{ endCursor: string | null; count: number }> = [];
    while (next !== null && pages.length < 5) {
      const response = await server.request(next);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { pageInfo: { endCursor: string | null }; nodes: unknown[] };
      pages.push({ endCursor: body.pageInfo.endCursor, count: body.nodes.length });
      const link = response.headers.get('link');
      next = link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null);
    }
    expect(pages.map((page) => page.count)).toEqual([2, 2, 1]);
    expect(pages[0]?.endCursor).toBe(graphql.body.data?.products.pageInfo.endCursor);
  });

  it('answers 304 to If-None-Match with the ETag of an unchanged answer, and 200 once it changed', async () => {
    const product = await seeder(server.db).product({ seller: await seeder(server.db).user({ role: 'SELLER' }) });
    const url = `/v1/products/${gid('Product', product)}`;
    const first = await server.request(url, { headers: customer.headers });
    const etag = first.headers.get('etag');
    expect({ status: first.status, etag }).toEqual({ status: 200, etag: expect.stringMatching(/^W\/"/) });
    const again = await server.request(url, { headers: { ...customer.headers, 'if-none-match': etag ?? '' } });
    expect({ status: again.status, body: await again.text() }).toEqual({ status: 304, body: '' });
    await server.db.updateTable('products').set({ title: 'Renamed behind the API' }).where('id', '=', product.id).execute();
    const changed = await server.request(url, { headers: { ...customer.headers, 'if-none-match': etag ?? '' } });
    expect(changed.status).toBe(200);
  });

  it('refuses unknown and ill-typed parameters and body members at once, each located', async () => {
    const query = await problemOf(await server.request('/v1/products?first=two&colour=red&inStock=maybe'));
    expect(query).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(query.errors?.map((e) => e['parameter']).sort()).toEqual(['colour', 'first', 'inStock']);

    const body = await problemOf(await server.request('/v1/checkout', { method: 'POST', headers: json(customer.headers), body: JSON.stringify({ cart: [] }) }));
    expect(body).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(body.errors?.map((e) => e['pointer']).sort()).toEqual(['/cart', '/items']);
  });

  it('answers user errors as one 422 problem with their codes, GraphQL paths and JSON pointers, writing nothing', async () => {
    const product = await seeder(server.db).product({ stock: 1 });
    const response = await server.request('/v1/checkout', {
      method: 'POST',
      headers: json({ ...customer.headers, 'idempotency-key': randomUUID() }),
      body: JSON.stringify({ items: [{ productId: gid('Product', product), quantity: 3 }] }),
    });
    const problem = await problemOf(response);
    expect(problem).toMatchObject({
      status: 422,
      code: 'OUT_OF_STOCK',
      errors: [{ code: 'OUT_OF_STOCK', field: ['input', 'items', '0', 'quantity'], pointer: '/items/0/quantity', availableQuantity: 1 }],
    });
    const stock = await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow();
    expect(stock.stock).toBe(1);
  });

  it('answers 404 for a missing object the URL names, through a user error too', async () => {
    const missing = gid('Order', { id: randomUUID() });
    expect(await problemOf(await server.request(`/v1/orders/${missing}`, { headers: customer.headers }))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const cancel = await problemOf(
      await server.request(`/v1/orders/${missing}/cancel`, { method: 'POST', headers: json(customer.headers), body: JSON.stringify({ expectedVersion: 1 }) }),
    );
    expect(cancel).toMatchObject({ status: 404, code: 'NOT_FOUND', errors: [{ code: 'NOT_FOUND', parameter: 'id' }] });
  });

  it('answers 405 with Allow, 404 for unknown paths and 415 for bodies that are not JSON, all as problems', async () => {
    const method = await server.request('/v1/checkout', { method: 'DELETE' });
    expect(method.headers.get('allow')).toBe('POST');
    expect(await problemOf(method)).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    expect(await problemOf(await server.request('/v1/nothing-here'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const text = await server.request('/v1/checkout', { method: 'POST', headers: { ...customer.headers, 'content-type': 'text/plain' }, body: 'items' });
    expect(await problemOf(text)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses an Idempotency-Key reused for another request with 422, and without credentials with 401', async () => {
    const product = await seeder(server.db).product({ stock: 10 });
    const key = randomUUID();
    const send = (quantity: number, headers: Record<string, string>) =>
      server.request('/v1/checkout', { method: 'POST', headers: json({ ...headers, 'idempotency-key': key }), body: JSON.stringify({ items: [{ productId: gid('Product', product), quantity }] }) });
    expect((await send(1, customer.headers)).status).toBe(201);
    expect(await problemOf(await send(2, customer.headers))).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    const anonymous = await send(1, {});
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(await problemOf(anonymous)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('serves its OpenAPI document and the offline reference page with its own CSP', async () => {
    const document = await server.request('/v1/openapi.json');
    expect(((await document.json()) as { openapi: string }).openapi).toBe('3.1.0');
    const page = await server.request('/v1/docs');
    expect({ status: page.status, csp: page.headers.get('content-security-policy') }).toEqual({ status: 200, csp: REFERENCE_CSP });
    expect(await page.text()).toContain('/v1/docs/assets/swagger-ui-bundle.js');
    const script = await server.request('/v1/docs/assets/swagger-ui-bundle.js');
    expect({ status: script.status, type: script.headers.get('content-type') }).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
  });
});

describe('REST under a small cost budget', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_BUDGET: '60', QUERY_MAX_COST: '60' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers 429 with Retry-After and RateLimit headers once the budget is spent', async () => {
    let response = await server.request('/v1/products?first=10');
    expect(response.headers.get('ratelimit-policy')).toBe('"default";q=60;w=3600');
    for (let i = 0; i < 20 && response.status === 200; i++) response = await server.request('/v1/products?first=10');
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(response.headers.get('ratelimit')).toMatch(/^"default";r=\d+;t=\d+$/);
    expect(await problemOf(response)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});

describe('REST with trusted documents and the shared response cache', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    const list = loadRestRoutes(buildSchema()).find((route) => route.operationName === 'ListProducts');
    if (!list) throw new Error('no ListProducts route');
    dir = mkdtempSync(path.join(os.tmpdir(), 'rest-trusted-'));
    writeFileSync(path.join(dir, 'trusted.json'), JSON.stringify({ [list.hash]: list.text }));
    server = await startTestServer({ env: { TRUSTED_DOCUMENTS_FILE: path.join(dir, 'trusted.json'), RESPONSE_CACHE: 'memory' }, captureLogs: true });
    await seeder(server.db).product();
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a route whose document is listed and refuses one whose document is not', async () => {
    expect((await server.request('/v1/products?first=1')).status).toBe(200);
    const refused = await server.request(`/v1/products/${gid('Product', { id: randomUUID() })}`);
    expect(await problemOf(refused)).toMatchObject({ status: 400, code: 'DOCUMENT_NOT_TRUSTED' });
  });

  it('shares anonymous answers through the response cache, as GraphQL does', async () => {
    const first = await server.request('/v1/products?first=3');
    const second = await server.request('/v1/products?first=3');
    expect({ status: second.status, cacheControl: second.headers.get('cache-control'), etag: second.headers.get('etag'), body: await second.text() }).toEqual({
      status: 200,
      cacheControl: expect.stringMatching(/^public, max-age=\d+$/),
      etag: first.headers.get('etag'),
      body: await first.text(),
    });
    const lines = server.logs.filter((line) => line.msg === 'request completed' && line['url'] === '/v1/products');
    expect(lines.slice(-2).map((line) => line['responseCache'])).toEqual(['miss', 'hit']);
  });
});
