/**
 * Relay against the real server: the fragments and operations of
 * docs/guides/clients.md, compiled by relay-compiler with the documented
 * relay.config.json, run through relay-runtime (its store, its connection
 * handler and the documented network layer). Paging and refetching take
 * their variables from the relay-runtime helpers that `usePaginationFragment`
 * and `useRefetchableFragment` call, so the requests are the ones a React app
 * would send.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  commitMutation,
  createOperationDescriptor,
  Environment,
  fetchQuery,
  getPaginationMetadata,
  getPaginationVariables,
  getRefetchMetadata,
  getSelector,
  Network,
  RecordSource,
  Store,
  type ConcreteRequest,
  type GraphQLResponse,
  type OperationDescriptor,
  type ReaderFragment,
  type SingularReaderSelector,
  type Variables,
} from 'relay-runtime';
import ts from 'typescript';

import { projectRoot } from '../../src/util/project-root.js';
import { compileDocumentedRelay, documentedBlock, startContractServer, type ContractServer, type RelayCompilation } from '../helpers/clients.js';

interface DocumentedEnvironment {
  createEnvironment(url: string, accessToken?: () => string | undefined): Environment;
  GraphQLResponseError: new (...args: never[]) => Error & { status: number; errors: Array<{ extensions?: { code?: string } }> };
}

interface CatalogConnection {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

let contract: ContractServer;
let relay: RelayCompilation;
let moduleDir: string;
let documentedEnvironment: DocumentedEnvironment;
const artifacts: Record<string, unknown> = {};

/** A compiled artifact by its name, e.g. `CatalogPageQuery`. */
function artifact<T>(name: string): T {
  const value = artifacts[name];
  if (!value) throw new Error(`relay-compiler produced no ${name}`);
  return value as T;
}

beforeAll(async () => {
  [contract, relay] = await Promise.all([startContractServer(), compileDocumentedRelay()]);
  for (const name of ['CatalogPageQuery', 'CatalogList_query', 'ProductCard_product', 'ProfileFormMutation']) {
    artifacts[name] = ((await import(path.join(relay.generated, `${name}.graphql.ts`))) as { default: unknown }).default;
  }
  // The documented network layer, as the module a frontend project would have: inside
  // node_modules/.cache so that its `relay-runtime` import resolves to this repository's copy.
  const parent = path.join(projectRoot(), 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  moduleDir = mkdtempSync(path.join(parent, 'client-relay-env-'));
  const { outputText } = ts.transpileModule(documentedBlock('ts relay-environment.ts'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  const file = path.join(moduleDir, 'relay-environment.mjs');
  writeFileSync(file, outputText);
  documentedEnvironment = (await import(file)) as DocumentedEnvironment;
}, 90_000);

afterAll(async () => {
  await contract?.server.close();
  if (relay) rmSync(relay.dir, { recursive: true, force: true });
  if (moduleDir) rmSync(moduleDir, { recursive: true, force: true });
});

function environment(accessToken?: string): Environment {
  return documentedEnvironment.createEnvironment(contract.uri, () => accessToken);
}

/** Runs the page query and keeps its data in the store, as a mounted component does. */
async function openCatalog(env: Environment, variables: Variables): Promise<OperationDescriptor> {
  const query = artifact<ConcreteRequest>('CatalogPageQuery');
  await fetchQuery(env, query, variables).toPromise();
  const operation = createOperationDescriptor(query, variables);
  env.retain(operation);
  return operation;
}

function catalogSelector(env: Environment, operation: OperationDescriptor): SingularReaderSelector {
  const root = env.lookup(operation.fragment).data;
  return getSelector(artifact<ReaderFragment>('CatalogList_query'), root) as SingularReaderSelector;
}

/** What `CatalogList_query` reads from the store now. */
function readCatalog(env: Environment, operation: OperationDescriptor): CatalogConnection {
  return (env.lookup(catalogSelector(env, operation)).data as { products: CatalogConnection }).products;
}

/** `loadNext(count)` / `loadPrevious(count)` of usePaginationFragment. */
async function load(env: Environment, operation: OperationDescriptor, direction: 'forward' | 'backward', count: number): Promise<void> {
  const { paginationRequest, paginationMetadata } = getPaginationMetadata(artifact<ReaderFragment>('CatalogList_query'), 'CatalogList');
  const selector = catalogSelector(env, operation);
  const { pageInfo } = readCatalog(env, operation);
  const cursor = direction === 'forward' ? pageInfo.endCursor : pageInfo.startCursor;
  const base = { ...selector.owner.variables, ...selector.variables };
  const variables = getPaginationVariables(direction, count, cursor, base, {}, paginationMetadata);
  await fetchQuery(env, paginationRequest, variables, { networkCacheConfig: { force: true } }).toPromise();
}

/** The variables of every request the network layer sent while `run` ran. */
async function sentVariables(run: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const spy = jest.spyOn(globalThis, 'fetch');
  try {
    await run();
    return spy.mock.calls.map(([, init]) => (JSON.parse(init?.body as string) as { variables: Record<string, unknown> }).variables);
  } finally {
    spy.mockRestore();
  }
}

describe('Relay (relay-runtime with the documented network layer)', () => {
  it('pages the documented fragment forward with loadNext, the connection keeping every product in order', async () => {
    const env = environment();
    const operation = await openCatalog(env, { count: 3 });
    expect(readCatalog(env, operation).edges).toHaveLength(3);
    let pages = 1;
    while (readCatalog(env, operation).pageInfo.hasNextPage) {
      await load(env, operation, 'forward', 3);
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(readCatalog(env, operation).edges.map((edge) => edge.node.id)).toEqual(contract.productIds);
  });

  it('pages the documented fragment backward with loadPrevious, never sending first together with last', async () => {
    const env = environment();
    const sent = await sentVariables(async () => {
      const operation = await openCatalog(env, { last: 3 });
      expect(readCatalog(env, operation).edges.map((edge) => edge.node.id)).toEqual(contract.productIds.slice(-3));
      while (readCatalog(env, operation).pageInfo.hasPreviousPage) await load(env, operation, 'backward', 3);
      expect(readCatalog(env, operation).edges.map((edge) => edge.node.id)).toEqual(contract.productIds);
    });
    expect(sent).toHaveLength(3);
    for (const variables of sent) {
      expect(variables['last']).toBe(3);
      expect(variables['count'] ?? null).toBeNull();
    }
  });

  it('refetches a product card through node(id:) and updates the card in the store', async () => {
    const env = environment();
    const operation = await openCatalog(env, { count: 1 });
    const [edge] = readCatalog(env, operation).edges;
    if (!edge) throw new Error('no product on the first page');
    const card = getSelector(artifact<ReaderFragment>('ProductCard_product'), edge.node) as SingularReaderSelector;
    const before = env.lookup(card).data as { title: string; price: { currency: string } };
    expect(before).toMatchObject({ title: 'Contract product 6', price: { currency: expect.any(String) } });

    await contract.server.db.updateTable('products').set({ title: 'Refetched by Relay' }).where('title', '=', 'Contract product 6').execute();
    const { refetchableRequest, identifierInfo } = getRefetchMetadata(artifact<ReaderFragment>('ProductCard_product'), 'ProductCard');
    expect(identifierInfo?.identifierField).toBe('id');
    await fetchQuery(env, refetchableRequest, { id: edge.node.id }, { networkCacheConfig: { force: true } }).toPromise();

    expect(env.lookup(card).data).toMatchObject({ id: edge.node.id, title: 'Refetched by Relay' });
  });

  it('commits the documented mutation with the access token and normalises the changed user', async () => {
    const env = environment(contract.account.accessToken);
    const response = await new Promise<{ updateProfile: { user: { id: string; displayName: string } | null; userErrors: unknown[] } }>(
      (resolve, reject) => {
        commitMutation(env, {
          mutation: artifact<ConcreteRequest>('ProfileFormMutation'),
          variables: { input: { displayName: 'Renamed through Relay' } },
          onCompleted: (data) => resolve(data as never),
          onError: reject,
        });
      },
    );
    expect(response.updateProfile.userErrors).toEqual([]);
    const userId = response.updateProfile.user?.id ?? '';
    expect(env.getStore().getSource().get(userId)).toMatchObject({ __typename: 'User', displayName: 'Renamed through Relay' });
  });

  it('surfaces an answer with errors and no data as an error: a page size over 100, a mutation without a token', async () => {
    const env = environment();
    const refused = await fetchQuery(env, artifact<ConcreteRequest>('CatalogPageQuery'), { count: 101 })
      .toPromise()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(documentedEnvironment.GraphQLResponseError);
    expect(refused).toMatchObject({ status: 400, errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });

    const anonymous = await new Promise<unknown>((resolve) => {
      commitMutation(env, {
        mutation: artifact<ConcreteRequest>('ProfileFormMutation'),
        variables: { input: { displayName: 'Nobody' } },
        onCompleted: () => resolve(undefined),
        onError: resolve,
      });
    });
    expect(anonymous).toMatchObject({ status: 401, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('would show the refused page as an empty catalogue with a network layer that only returns the JSON (why the check is there)', async () => {
    const plain = new Environment({
      network: Network.create(async (params, variables) => {
        const response = await fetch(contract.uri, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: params.text, variables }),
        });
        return (await response.json()) as GraphQLResponse;
      }),
      store: new Store(new RecordSource()),
    });
    const query = artifact<ConcreteRequest>('CatalogPageQuery');
    await expect(fetchQuery(plain, query, { count: 101 }).toPromise()).resolves.toBeDefined();
    const operation = createOperationDescriptor(query, { count: 101 });
    expect((plain.lookup(catalogSelector(plain, operation)).data as { products: unknown }).products).toBeNull();
  });
});
