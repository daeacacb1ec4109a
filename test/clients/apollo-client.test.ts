/**
 * Apollo Client 4 (HttpLink, InMemoryCache, ErrorLink) against the real
 * server, set up as docs/guides/clients.md says, with the operations documented there.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  gql,
  HttpLink,
  InMemoryCache,
  type ErrorLike,
} from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { from, mergeMap } from 'rxjs';

import { CATALOG_SIZE, documented, documentedBlocks, importDocumentedModule, startContractServer, type ContractServer } from '../helpers/clients.js';

let contract: ContractServer;
let cacheModule: { module: { documentedCache: () => InMemoryCache }; remove: () => void };

beforeAll(async () => {
  const block = documentedBlocks().find((candidate) => candidate.section === 'Apollo Client' && candidate.info === 'ts' && candidate.source.includes('new InMemoryCache('));
  if (!block) throw new Error("docs/guides/clients.md's Apollo Client section has no ts block creating the InMemoryCache");
  const source = block.source.replace('const cache = new InMemoryCache(', 'const documentedCache = () => new InMemoryCache(');
  [contract, cacheModule] = await Promise.all([startContractServer(), importDocumentedModule<{ documentedCache: () => InMemoryCache }>(source, 'documentedCache')]);
});

afterAll(async () => {
  await contract.server.close();
  cacheModule.remove();
});

interface CatalogData {
  products: {
    totalCount: number;
    edges: Array<{ cursor: string; node: { id: string; title: string; createdAt: string; price: { amount: number; currency: string } } }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const CATALOG = gql(documented('Catalog'));
const PRODUCT_BY_ID = gql(documented('ProductById'));
const LOG_IN = gql(documented('LogIn'));
const VIEWER = gql(documented('Viewer'));
const REFRESH_SESSION = documented('RefreshSession');

/** A new cache as docs/guides/clients.md's Apollo Client block creates it (that block, run as a module). */
function documentedCache(): InMemoryCache {
  return cacheModule.module.documentedCache();
}

function client(link: ApolloLink = new HttpLink({ uri: contract.uri })): ApolloClient {
  return new ApolloClient({ cache: documentedCache(), link, clientAwareness: { name: 'contract-test', version: '1.0.0' } });
}

describe('Apollo Client 4', () => {
  it('walks the catalogue to the end with fetchMore and the documented pagination policy', async () => {
    const apollo = client();
    const catalog = apollo.watchQuery<CatalogData>({ query: CATALOG, variables: { first: 3 } });
    const subscription = catalog.subscribe(() => undefined);
    try {
      let merged = (await catalog.refetch()).data;
      let requests = 1;
      while (merged?.products.pageInfo.hasNextPage) {
        await catalog.fetchMore({ variables: { after: merged.products.pageInfo.endCursor } });
        merged = apollo.cache.readQuery<CatalogData>({ query: CATALOG, variables: { first: 3 } }) ?? undefined;
        requests += 1;
      }
      expect(requests).toBe(Math.ceil(CATALOG_SIZE / 3));
      expect(merged?.products.edges.map((edge) => edge.node.id)).toEqual(contract.productIds);
      expect(merged?.products.totalCount).toBe(CATALOG_SIZE);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('normalises a product from node(id:) and from the catalogue into one cache entry', async () => {
    const apollo = client();
    await apollo.query<CatalogData>({ query: CATALOG, variables: { first: 3 } });
    const id = contract.productIds[0] ?? '';
    await contract.server.db.updateTable('products').set({ title: 'Renamed while cached' }).where('title', '=', 'Contract product 6').execute();
    const byNode = await apollo.query<{ node: { id: string; title: string } }>({ query: PRODUCT_BY_ID, variables: { id } });
    expect(byNode.data?.node).toMatchObject({ __typename: 'Product', id, title: 'Renamed while cached' });
    // The catalogue page, read from the cache only, sees the title node(id:) brought: the same entry.
    const cached = apollo.cache.readQuery<CatalogData>({ query: CATALOG, variables: { first: 3 } });
    expect(cached?.products.edges[0]?.node).toMatchObject({ id, title: 'Renamed while cached' });
    expect(Object.keys(apollo.cache.extract() as Record<string, unknown>).filter((key) => key.endsWith(id))).toEqual([`Product:${id}`]);
  });

  it('logs in, then reads the viewer with the access token', async () => {
    const tokens: { access?: string } = {};
    const auth = new SetContextLink((prevContext) => ({
      headers: { ...(prevContext['headers'] as Record<string, string>), ...(tokens.access ? { authorization: `Bearer ${tokens.access}` } : {}) },
    }));
    const apollo = client(ApolloLink.from([auth, new HttpLink({ uri: contract.uri })]));
    const login = await apollo.mutate<{ logIn: { accessToken: string | null; user: { id: string } | null; userErrors: unknown[] } }>({
      mutation: LOG_IN,
      variables: { input: { email: contract.account.email, password: contract.account.password, refreshTokenDelivery: 'PAYLOAD' } },
    });
    expect(login.data?.logIn.userErrors).toEqual([]);
    tokens.access = login.data?.logIn.accessToken ?? undefined;
    const viewer = await apollo.query<{ viewer: { id: string; email: string | null } | null }>({ query: VIEWER });
    expect(viewer.data?.viewer).toMatchObject({ id: login.data?.logIn.user?.id, email: contract.account.email });
  });

  it('delivers an expired token to the error link as a GraphQL error UNAUTHENTICATED, then refreshes and retries', async () => {
    const tokens = { access: contract.expiredAccessToken, refresh: contract.account.refreshToken };
    const seen: ErrorLike[] = [];
    const refreshTokens = async (): Promise<void> => {
      const res = await fetch(contract.uri, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: REFRESH_SESSION, variables: { input: { refreshToken: tokens.refresh } } }),
      });
      const body = (await res.json()) as { data: { refreshSession: { accessToken: string; refreshToken: string } } };
      tokens.access = body.data.refreshSession.accessToken;
      tokens.refresh = body.data.refreshSession.refreshToken;
    };
    const auth = new SetContextLink((prevContext) => ({
      headers: { ...(prevContext['headers'] as Record<string, string>), authorization: `Bearer ${tokens.access}` },
    }));
    const refreshOnUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
      seen.push(error);
      if (!CombinedGraphQLErrors.is(error)) return;
      if (!error.errors.some((e) => e.extensions?.['code'] === 'UNAUTHENTICATED')) return;
      if (operation.getContext()['retriedAfterRefresh']) return;
      operation.setContext({ retriedAfterRefresh: true });
      return from(refreshTokens()).pipe(mergeMap(() => forward(operation)));
    });
    const apollo = client(ApolloLink.from([refreshOnUnauthenticated, auth, new HttpLink({ uri: contract.uri })]));

    const viewer = await apollo.query<{ viewer: { id: string } | null }>({ query: VIEWER, fetchPolicy: 'network-only' });

    expect(seen).toHaveLength(1);
    const [error] = seen;
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    if (!CombinedGraphQLErrors.is(error)) return;
    expect(error.errors.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
    expect(error.errors[0]?.extensions?.['requestId']).toEqual(expect.any(String));
    // The retry after the refresh answered with the account's own viewer.
    expect(viewer.data?.viewer?.id).toEqual(expect.any(String));
    expect(viewer.error).toBeUndefined();
  });

  it('surfaces an expired token without an error link as CombinedGraphQLErrors on the result', async () => {
    const apollo = client(new HttpLink({ uri: contract.uri, headers: { authorization: `Bearer ${contract.expiredAccessToken}` } }));
    const result = await apollo.query({ query: VIEWER, errorPolicy: 'all' });
    expect(CombinedGraphQLErrors.is(result.error)).toBe(true);
    expect(CombinedGraphQLErrors.is(result.error) && result.error.errors[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
  });

  it('runs queries over GET with the documented preflight header', async () => {
    const apollo = client(new HttpLink({ uri: contract.uri, useGETForQueries: true, headers: { 'apollo-require-preflight': 'true' } }));
    const result = await apollo.query<CatalogData>({ query: CATALOG, variables: { first: 2 } });
    expect(result.data?.products.edges).toHaveLength(2);
  });

  it('gets data through the persisted-query link, whether or not the server keeps persisted queries', async () => {
    const sha256 = (query: string) => createHash('sha256').update(query).digest('hex');
    const apollo = client(ApolloLink.from([new PersistedQueryLink({ sha256 }), new HttpLink({ uri: contract.uri })]));
    const result = await apollo.query<CatalogData>({ query: CATALOG, variables: { first: 1 } });
    expect(result.data?.products.edges).toHaveLength(1);
  });

  it('answers a subscription sent over its HTTP link with a coded refusal', async () => {
    const apollo = client();
    const subscription = apollo.subscribe({ query: gql('subscription OnOrders { myOrderUpdates { id } }') });
    const error = await new Promise<ErrorLike | undefined>((resolve) => {
      subscription.subscribe({ next: (result) => resolve(result.error), error: resolve, complete: () => resolve(undefined) });
    });
    expect(CombinedGraphQLErrors.is(error) && error.errors[0]?.extensions?.['code']).toBe('SUBSCRIPTION_NOT_SUPPORTED');
  });
});
