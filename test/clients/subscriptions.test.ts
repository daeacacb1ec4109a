/**
 * Subscriptions through the real client packages, set up as
 * docs/guides/clients.md says: Apollo Client 4 with GraphQLWsLink split from
 * HttpLink, and urql with subscriptionExchange over graphql-ws. The
 * documented blocks run as modules; the documented MyOrderUpdates
 * operation is what they subscribe to.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloClient, gql, InMemoryCache, type ApolloLink } from '@apollo/client';
import { Client, fetchExchange, gql as urqlGql, type Exchange } from '@urql/core';
import WebSocket from 'ws';

import { documented, documentedBlocks, importDocumentedModule, startContractServer, type ContractServer } from '../helpers/clients.js';
import { until } from '../helpers/live.js';

let contract: ContractServer;
let wsUri: string;
const removals: Array<() => void> = [];

/** Browsers (and Node 22+) have a global WebSocket; graphql-ws looks for it when a client is created. */
const globals = globalThis as { WebSocket?: unknown };
globals.WebSocket ??= WebSocket;

function documentedTs(section: string, needle: string): string {
  const block = documentedBlocks().find((candidate) => candidate.section === section && candidate.info === 'ts' && candidate.source.includes(needle));
  if (!block) throw new Error(`docs/guides/clients.md's ${section} section has no ts block with ${needle}`);
  return block.source;
}

/** A checkout by the contract account: an order change its myOrderUpdates hears. */
async function checkout(): Promise<string> {
  const res = await contract.server.graphql<{ checkout: { orders: Array<{ id: string }> | null } }>(
    'mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }',
    { input: { items: [{ productId: contract.productIds[0], quantity: 1 }] } },
    { headers: { ...contract.account.headers, 'idempotency-key': randomUUID() } },
  );
  const id = res.body.data?.checkout.orders?.[0]?.id;
  if (!id) throw new Error(`checkout failed: ${JSON.stringify(res.body)}`);
  return id;
}

beforeAll(async () => {
  contract = await startContractServer(2);
  wsUri = contract.uri.replace(/^http/, 'ws');
});

afterAll(async () => {
  for (const remove of removals) remove();
  await contract.server.close();
});

const MY_ORDER_UPDATES = documented('MyOrderUpdates');

describe('Apollo Client 4 with GraphQLWsLink', () => {
  it('receives the documented subscription over the WebSocket and runs queries over HTTP through the same split link', async () => {
    const imported = await importDocumentedModule<{ splitLink: (httpUri: string, wsUri: string, token: () => string | undefined) => ApolloLink }>(documentedTs('Apollo Client', 'GraphQLWsLink'), 'splitLink');
    removals.push(imported.remove);
    const apollo = new ApolloClient({ link: imported.module.splitLink(contract.uri, wsUri, () => contract.account.accessToken), cache: new InMemoryCache() });
    const events: Array<{ myOrderUpdates: { id: string; status: string } }> = [];
    const subscription = apollo.subscribe<{ myOrderUpdates: { id: string; status: string } }>({ query: gql(MY_ORDER_UPDATES) }).subscribe({
      next: (result) => {
        if (result.data) events.push(result.data);
      },
    });
    await until(() => contract.server.app.live.streams === 1, 'the subscription');
    const orderId = await checkout();
    await until(() => events.length === 1, 'the order event');
    expect(events[0]?.myOrderUpdates).toEqual({ __typename: 'Order', id: orderId, status: 'PENDING_PAYMENT' });
    const viewer = await apollo.query<{ viewer: { id: string } | null }>({ query: gql('query Viewer { viewer { id } }') });
    expect(viewer.data?.viewer).toBeNull();
    subscription.unsubscribe();
    await until(() => contract.server.app.live.streams === 0, 'the subscription to end');
    apollo.stop();
  });
});

describe('urql with subscriptionExchange', () => {
  it('receives the documented subscription through graphql-ws', async () => {
    const tokens = { access: contract.account.accessToken };
    (globalThis as { tokens?: unknown }).tokens = tokens;
    const source = `const tokens = globalThis.tokens;\n${documentedTs('urql', 'subscriptionExchange').replace('wss://api.example.com/graphql', wsUri)}`;
    const imported = await importDocumentedModule<{ live: Exchange }>(source, 'live');
    removals.push(imported.remove);
    const urql = new Client({ url: contract.uri, preferGetMethod: false, exchanges: [fetchExchange, imported.module.live] });
    const events: Array<{ myOrderUpdates: { id: string } }> = [];
    const subscription = urql.subscription<{ myOrderUpdates: { id: string } }>(urqlGql(MY_ORDER_UPDATES), {}).subscribe((result) => {
      if (result.data) events.push(result.data);
    });
    await until(() => contract.server.app.live.streams === 1, 'the subscription');
    const orderId = await checkout();
    await until(() => events.length === 1, 'the order event');
    expect(events[0]?.myOrderUpdates.id).toBe(orderId);
    subscription.unsubscribe();
    await until(() => contract.server.app.live.streams === 0, 'the subscription to end');
  });
});
