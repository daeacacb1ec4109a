/**
 * urql (@urql/core with fetchExchange, and @urql/exchange-graphcache) against
 * the real server, set up as docs/guides/clients.md says, with the operations
 * documented there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, fetchExchange, gql, type Exchange } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';

import { CATALOG_SIZE, documented, startContractServer, type ContractServer } from '../helpers/clients.js';

let contract: ContractServer;

beforeAll(async () => {
  contract = await startContractServer();
});

afterAll(async () => {
  await contract.server.close();
});

interface CatalogData {
  products: {
    totalCount: number;
    edges: Array<{ cursor: string; node: { id: string; title: string } }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const CATALOG = gql(documented('Catalog'));
const PRODUCT_BY_ID = gql(documented('ProductById'));
const LOG_IN = gql(documented('LogIn'));
const VIEWER = gql(documented('Viewer'));

/** The graphcache of docs/guides/clients.md. */
function documentedGraphcache(): Exchange {
  return cacheExchange({
    keys: { Money: () => null, PageInfo: () => null, UserError: () => null },
    resolvers: {
      Query: { products: relayPagination() },
      Category: { products: relayPagination() },
      Product: { reviews: relayPagination() },
    },
  });
}

/** The documented client: POST, graphcache, the bearer token when there is one. */
function client(token?: () => string | undefined): Client {
  return new Client({
    url: contract.uri,
    preferGetMethod: false,
    fetchOptions: (): RequestInit => {
      const access = token?.();
      return { headers: access ? { authorization: `Bearer ${access}` } : {} };
    },
    exchanges: [documentedGraphcache(), fetchExchange],
  });
}

describe('urql', () => {
  it('walks the catalogue to the end with graphcache relayPagination', async () => {
    const urql = client();
    let after: string | null = null;
    let requests = 0;
    do {
      const page = await urql.query<CatalogData>(CATALOG, { first: 3, after }, { requestPolicy: 'network-only' }).toPromise();
      expect(page.error).toBeUndefined();
      after = page.data?.products.pageInfo.hasNextPage ? (page.data.products.pageInfo.endCursor ?? null) : null;
      requests += 1;
    } while (after !== null);
    expect(requests).toBe(Math.ceil(CATALOG_SIZE / 3));
    // relayPagination merges every page fetched into the list the first page's query reads.
    const merged = await urql.query<CatalogData>(CATALOG, { first: 3 }, { requestPolicy: 'cache-only' }).toPromise();
    expect(merged.data?.products.edges.map((edge) => edge.node.id)).toEqual(contract.productIds);
    expect(merged.data?.products.pageInfo.hasNextPage).toBe(false);
  });

  it('normalises a product from node(id:) and from the catalogue into one cache entry', async () => {
    const urql = client();
    await urql.query<CatalogData>(CATALOG, { first: 3 }).toPromise();
    const id = contract.productIds[1] ?? '';
    await contract.server.db.updateTable('products').set({ title: 'Renamed under urql' }).where('title', '=', 'Contract product 5').execute();
    const byNode = await urql.query<{ node: { id: string; title: string } }>(PRODUCT_BY_ID, { id }, { requestPolicy: 'network-only' }).toPromise();
    expect(byNode.data?.node).toMatchObject({ id, title: 'Renamed under urql' });
    const cached = await urql.query<CatalogData>(CATALOG, { first: 3 }, { requestPolicy: 'cache-only' }).toPromise();
    expect(cached.data?.products.edges[1]?.node).toMatchObject({ id, title: 'Renamed under urql' });
  });

  it('logs in, then reads the viewer with the access token', async () => {
    const tokens: { access?: string } = {};
    const urql = client(() => tokens.access);
    const login = await urql
      .mutation<{ logIn: { accessToken: string | null; user: { id: string } | null; userErrors: unknown[] } }>(LOG_IN, {
        input: { email: contract.account.email, password: contract.account.password, refreshTokenDelivery: 'PAYLOAD' },
      })
      .toPromise();
    expect(login.data?.logIn.userErrors).toEqual([]);
    tokens.access = login.data?.logIn.accessToken ?? undefined;
    const viewer = await urql.query<{ viewer: { id: string; email: string | null } | null }>(VIEWER, {}, { requestPolicy: 'network-only' }).toPromise();
    expect(viewer.data?.viewer).toMatchObject({ id: login.data?.logIn.user?.id, email: contract.account.email });
  });

  it('reports an expired token as a GraphQL error UNAUTHENTICATED with status 401 on result.error', async () => {
    const urql = client(() => contract.expiredAccessToken);
    const result = await urql.query(VIEWER, {}, { requestPolicy: 'network-only' }).toPromise();
    expect(result.error?.networkError).toBeUndefined();
    expect(result.error?.graphQLErrors.map((e) => e.extensions['code'])).toEqual(['UNAUTHENTICATED']);
    expect((result.error?.response as Response | undefined)?.status).toBe(401);
  });

  it('runs queries over GET when the documented preflight header is sent', async () => {
    const urql = new Client({
      url: contract.uri,
      fetchOptions: { headers: { 'apollo-require-preflight': 'true' } },
      exchanges: [documentedGraphcache(), fetchExchange],
    });
    const result = await urql.query<CatalogData>(CATALOG, { first: 2 }).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data?.products.edges).toHaveLength(2);
  });

  it('with default options (GET without a preflight header) gets the coded CSRF refusal the docs describe', async () => {
    const urql = new Client({ url: contract.uri, exchanges: [fetchExchange] });
    const result = await urql.query(CATALOG, { first: 2 }).toPromise();
    expect(result.error?.graphQLErrors[0]?.extensions['code']).toBe('BAD_REQUEST');
    expect(result.error?.graphQLErrors[0]?.message).toMatch(/apollo-require-preflight/);
  });
});
