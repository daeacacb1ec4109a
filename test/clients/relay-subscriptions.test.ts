/**
 * Relay subscriptions against the real server, set up as
 * docs/guides/clients.md says: the documented OrderStatusSubscription
 * compiled by relay-compiler, the documented environment given the
 * documented graphql-ws subscribe function, and relay-runtime's
 * requestSubscription receiving an order event into its store.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { requestSubscription, type Environment, type GraphQLSubscriptionConfig, type SubscribeFunction } from 'relay-runtime';
import WebSocket from 'ws';

import { compileDocumentedRelay, documentedBlock, importDocumentedModule, startContractServer, type ContractServer, type RelayCompilation } from '../helpers/clients.js';
import { until } from '../helpers/live.js';

interface DocumentedEnvironment {
  createEnvironment(url: string, accessToken?: () => string | undefined, subscribe?: SubscribeFunction): Environment;
}
interface DocumentedSubscribe {
  createSubscribe(wsUrl: string, accessToken?: () => string | undefined): SubscribeFunction;
}
type OrderStatus = { myOrderUpdates: { id: string; status: string } };

/** graphql-ws looks for a global WebSocket (browsers, Node 22+) when it connects. */
const globals = globalThis as { WebSocket?: unknown };
globals.WebSocket ??= WebSocket;

let contract: ContractServer;
let relay: RelayCompilation;
let subscription: GraphQLSubscriptionConfig<never>['subscription'];
let documentedEnvironment: DocumentedEnvironment;
let documentedSubscribe: DocumentedSubscribe;
const removals: Array<() => void> = [];

beforeAll(async () => {
  [contract, relay] = await Promise.all([startContractServer(2), compileDocumentedRelay()]);
  subscription = ((await import(path.join(relay.generated, 'OrderStatusSubscription.graphql.ts'))) as { default: typeof subscription }).default;
  const environment = await importDocumentedModule<{ default: DocumentedEnvironment['createEnvironment'] }>(documentedBlock('ts relay-environment.ts'), 'createEnvironment as default');
  const subscribe = await importDocumentedModule<{ default: DocumentedSubscribe['createSubscribe'] }>(documentedBlock('ts relay-subscriptions.ts'), 'createSubscribe as default');
  removals.push(environment.remove, subscribe.remove);
  documentedEnvironment = { createEnvironment: environment.module.default };
  documentedSubscribe = { createSubscribe: subscribe.module.default };
}, 90_000);

afterAll(async () => {
  for (const remove of removals) remove();
  await contract?.server.close();
});

/** A checkout by the contract account: the order change its myOrderUpdates hears. */
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

describe('Relay with the documented graphql-ws subscribe function', () => {
  it('receives the documented OrderStatusSubscription through requestSubscription and normalises the order into the store', async () => {
    const token = () => contract.account.accessToken;
    const wsUrl = contract.uri.replace(/^http/, 'ws');
    const env = documentedEnvironment.createEnvironment(contract.uri, token, documentedSubscribe.createSubscribe(wsUrl, token));
    const events: OrderStatus[] = [];
    const errors: unknown[] = [];
    const disposable = requestSubscription<{ response: OrderStatus; variables: Record<string, never> }>(env, {
      subscription,
      variables: {},
      onNext: (response) => {
        if (response) events.push(response);
      },
      onError: (error) => errors.push(error),
    });
    await until(() => contract.server.app.live.streams === 1, 'the subscription');
    const orderId = await checkout();
    await until(() => events.length === 1, 'the order event');
    expect(errors).toEqual([]);
    expect(events[0]?.myOrderUpdates).toMatchObject({ id: orderId, status: 'PENDING_PAYMENT' });
    expect(env.getStore().getSource().get(orderId)).toMatchObject({ __typename: 'Order', id: orderId, status: 'PENDING_PAYMENT' });
    disposable.dispose();
    await until(() => contract.server.app.live.streams === 0, 'the subscription to end');
  });

  it('reports a refused subscription (no credential for myOrderUpdates) to onError as an Error', async () => {
    const wsUrl = contract.uri.replace(/^http/, 'ws');
    const env = documentedEnvironment.createEnvironment(contract.uri, () => undefined, documentedSubscribe.createSubscribe(wsUrl));
    const error = await new Promise<unknown>((resolve) => {
      requestSubscription(env, { subscription, variables: {}, onError: resolve, onNext: () => resolve(undefined) });
    });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^UNAUTHENTICATED: /);
    await until(() => contract.server.app.live.streams === 0, 'no stream opened');
  });
});
