/**
 * Apollo Client 4 with the cache exactly as docs/guides/clients.md sets it up (its
 * TypeScript block, run as a module): objects without an id merge, pages of
 * `nodes` merge like pages of `edges`, and what BatchHttpLink gets from a
 * server that does not batch (docs/guides/clients.md: do not use it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';

import {
  documented,
  documentedBlocks,
  embeddedObjectTypes,
  importDocumentedModule,
  startContractServer,
  type ContractServer,
} from '../helpers/clients.js';

/** More than two pages of the server's default page size (20). */
const CATALOG_SIZE = 51;

interface DocumentedCache {
  EMBEDDED_TYPES: string[];
  documentedCache: () => InMemoryCache;
}

interface NodesData {
  products: { nodes: Array<{ id: string; title: string; price: { currency: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const CATALOG_NODES = gql(documented('CatalogNodes'));
/** Another screen reading another part of each product's price. */
const PRICE_AMOUNTS = gql('query PriceAmounts($first: Int) { products(first: $first) { nodes { id price { amount } } } }');

let contract: ContractServer;
let documentedModule: { module: DocumentedCache; remove: () => void };

beforeAll(async () => {
  const block = documentedBlocks().find((candidate) => candidate.section === 'Apollo Client' && candidate.info === 'ts' && candidate.source.includes('new InMemoryCache('));
  if (!block) throw new Error("docs/guides/clients.md's Apollo Client section has no ts block creating the InMemoryCache");
  const source = block.source.replace('const cache = new InMemoryCache(', 'const documentedCache = () => new InMemoryCache(');
  expect(source).not.toBe(block.source);
  [contract, documentedModule] = await Promise.all([
    startContractServer(CATALOG_SIZE),
    importDocumentedModule<DocumentedCache>(source, 'EMBEDDED_TYPES, documentedCache'),
  ]);
}, 90_000);

afterAll(async () => {
  await contract?.server.close();
  documentedModule?.remove();
});

function client(cache: InMemoryCache = documentedModule.module.documentedCache()): ApolloClient {
  return new ApolloClient({ cache, link: new HttpLink({ uri: contract.uri }) });
}

/** Walks the catalogue with fetchMore until the last page; returns what the cache holds for the first query. */
async function walkWithNodes(apollo: ApolloClient): Promise<NodesData | null> {
  const catalog = apollo.watchQuery<NodesData>({ query: CATALOG_NODES, variables: { first: 20 } });
  const subscription = catalog.subscribe(() => undefined);
  try {
    let merged: NodesData | null | undefined = (await catalog.refetch()).data;
    while (merged?.products.pageInfo.hasNextPage) {
      await catalog.fetchMore({ variables: { after: merged.products.pageInfo.endCursor } });
      merged = apollo.cache.readQuery<NodesData>({ query: CATALOG_NODES, variables: { first: 20 } });
    }
    return merged ?? null;
  } finally {
    subscription.unsubscribe();
  }
}

describe('Apollo Client 4 cache of docs/guides/clients.md', () => {
  it('lists in EMBEDDED_TYPES every object type of the schema without an id', () => {
    const expected = embeddedObjectTypes();
    // On failure: paste this list into EMBEDDED_TYPES in docs/guides/clients.md.
    expect([...documentedModule.module.EMBEDDED_TYPES].sort()).toEqual(expected);
    expect(expected).toEqual(expect.arrayContaining(['Money', 'PageInfo', 'UserError']));
  });

  it('pages through 51 products with nodes and fetchMore, keeping all 51 in order', async () => {
    const merged = await walkWithNodes(client());
    expect(merged?.products.nodes.map((node) => node.id)).toEqual(contract.productIds);
    expect(merged?.products.nodes).toHaveLength(CATALOG_SIZE);
  });

  it('keeps both parts of a price when two queries select different fields of it', async () => {
    const apollo = client();
    await apollo.query({ query: CATALOG_NODES, variables: { first: 5 } });
    await apollo.query({ query: PRICE_AMOUNTS, variables: { first: 5 } });
    const first = apollo.cache.readQuery<NodesData>({ query: CATALOG_NODES, variables: { first: 5 } });
    expect(first?.products.nodes).toHaveLength(5);
    expect(first?.products.nodes.every((node) => typeof node.price.currency === 'string')).toBe(true);

    // Without `merge: true` on Money the second answer replaces the first one's price.
    const plain = client(new InMemoryCache());
    await plain.query({ query: CATALOG_NODES, variables: { first: 5 } });
    await plain.query({ query: PRICE_AMOUNTS, variables: { first: 5 } });
    expect(plain.cache.readQuery({ query: CATALOG_NODES, variables: { first: 5 } })).toBeNull();
  });

  it('gives BatchHttpLink, which the server does not serve, an error carrying the coded refusal', async () => {
    const apollo = client();
    apollo.setLink(new BatchHttpLink({ uri: contract.uri, batchMax: 2, batchInterval: 20 }));
    const results = await Promise.allSettled([
      apollo.query({ query: CATALOG_NODES, variables: { first: 1 } }),
      apollo.query({ query: PRICE_AMOUNTS, variables: { first: 1 } }),
    ]);
    for (const result of results) {
      const error = result.status === 'rejected' ? (result.reason as unknown) : result.value.error;
      // Apollo's own message (one result for two operations); the server's answer is on `result`.
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({
        message: 'server returned results with length 1, expected length of 2',
        result: [{ errors: [{ message: expect.stringMatching(/Batched operations are not supported/), extensions: { code: 'BAD_REQUEST' } }] }],
      });
    }
  });
});
