import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { documentHash, loadTrustedDocuments, TrustedDocumentsError } from '../src/limits/trusted-documents.js';
import { startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';

const PREFLIGHT = { 'apollo-require-preflight': 'true' };
const CATEGORIES = 'query Categories { categories { id name } }';
const TYPENAME = '{ __typename }';

function apqExtensions(query: string): string {
  return JSON.stringify({ persistedQuery: { version: 1, sha256Hash: documentHash(query) } });
}

async function getByHash(server: TestServer, query: string): Promise<{ status: number; body: GraphQLResponse<unknown> }> {
  const res = await server.request(`/graphql?extensions=${encodeURIComponent(apqExtensions(query))}`, { headers: PREFLIGHT });
  return { status: res.status, body: (await res.json()) as GraphQLResponse<unknown> };
}

describe('automatic persisted queries (on by default)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('asks for the document on an unknown hash, then runs GET requests by hash once it is registered', async () => {
    const unknown = await getByHash(server, CATEGORIES);
    expect(unknown.body.errors?.[0]?.extensions).toMatchObject({ code: 'PERSISTED_QUERY_NOT_FOUND', requestId: expect.any(String) });

    const registered = await server.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: CATEGORIES, extensions: JSON.parse(apqExtensions(CATEGORIES)) as unknown }),
    });
    expect(registered.status).toBe(200);

    const byHash = await getByHash(server, CATEGORIES);
    expect(byHash.status).toBe(200);
    expect(byHash.body.data).toEqual({ categories: [] });
  });
});

describe('trusted documents (TRUSTED_DOCUMENTS_FILE)', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trusted-'));
    const file = path.join(dir, 'persisted-documents.json');
    writeFileSync(file, JSON.stringify({ [documentHash(CATEGORIES)]: CATEGORIES }));
    server = await startTestServer({
      env: { NODE_ENV: 'production', LOG_FORMAT: 'json', JWT_SIGNING_KEYS: await generateSigningJwks(), TRUSTED_DOCUMENTS_FILE: file },
    });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a listed document by its hash alone, over GET and POST', async () => {
    const get = await getByHash(server, CATEGORIES);
    expect(get.body).toMatchObject({ data: { categories: [] } });
    const post = await server.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extensions: JSON.parse(apqExtensions(CATEGORIES)) as unknown }),
    });
    expect(((await post.json()) as GraphQLResponse<unknown>).data).toEqual({ categories: [] });
  });

  it('runs the full text of a listed document', async () => {
    const res = await server.graphql(CATEGORIES);
    expect(res.body.data).toEqual({ categories: [] });
  });

  it('refuses any other document, by text or by hash, with DOCUMENT_NOT_TRUSTED', async () => {
    const byText = await server.graphql(TYPENAME);
    expect(byText.status).toBe(400);
    expect(byText.body.errors?.[0]?.extensions).toEqual({ code: 'DOCUMENT_NOT_TRUSTED', requestId: byText.headers.get('x-request-id') });
    const byHash = await getByHash(server, TYPENAME);
    expect(byHash.status).toBe(400);
    expect(byHash.body.errors?.[0]?.extensions?.['code']).toBe('DOCUMENT_NOT_TRUSTED');
    // Registering through APQ does not make a document trusted.
    const register = await server.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: TYPENAME, extensions: JSON.parse(apqExtensions(TYPENAME)) as unknown }),
    });
    expect(register.status).toBe(400);
    expect((await getByHash(server, TYPENAME)).body.errors?.[0]?.extensions?.['code']).toBe('DOCUMENT_NOT_TRUSTED');
  });

  it('refuses to start from a file whose hash does not match its document', () => {
    const file = path.join(dir, 'tampered.json');
    writeFileSync(file, JSON.stringify({ [documentHash(CATEGORIES)]: TYPENAME }));
    expect(() => loadTrustedDocuments(file)).toThrow(TrustedDocumentsError);
    expect(() => loadTrustedDocuments(path.join(dir, 'missing.json'))).toThrow(/cannot be read/);
  });
});
