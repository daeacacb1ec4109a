/**
 * Authorization and IDOR over REST: for every REST route and every kind of
 * caller of the authorization matrix (test/authorization/kit.ts), the
 * route's own GraphQL document is sent to /graphql and the REST request to
 * the route, each on fresh rows of its own, and the two outcomes must be
 * the same: 'ok' is 200 or 201, UNAUTHENTICATED 401, FORBIDDEN 403, a null
 * answer the route's `absent` status (404, or 401 for the caller's own
 * lists), a user error NOT_FOUND on the URL's object 404. Where the route's
 * root field has a row in the matrix, the GraphQL outcome is also the one
 * the matrix expects. The IDOR cases point a caller at another person's
 * order, product or endpoint: not found, the same way on both sides.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { buildSchema } from '../src/graphql/schema.js';
import { loadRestRoutes, type RestRoute } from '../src/rest/documents.js';
import { CALLER_LABELS, CALLERS, category, makeCaller, server, setFixtures, activeProduct, type Caller, type CallerName, type MatrixRow } from './authorization/kit.js';
import { ordersRows } from './authorization/orders.rows.js';
import { productsRows } from './authorization/products.rows.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer } from './helpers/server.js';

const routes = new Map(loadRestRoutes(buildSchema()).map((route) => [`${route.method} ${route.path}`, route]));
const MATRIX: Record<string, MatrixRow> = { ...productsRows, ...ordersRows };

interface Case {
  /** `METHOD /path` of the route. */
  route: string;
  /** What the case shows. */
  about: string;
  /** Fresh rows for one side; the variables of the route's document. */
  arrange: (caller: Caller) => Promise<Record<string, unknown>>;
  /** Compare with the matrix row of the route's root field (a case about someone else's rows does not). */
  matrix?: boolean;
}

const seed = () => seeder(server.db);
const sellerOf = async (caller: Caller, own: boolean) => (own && caller.name === 'seller' && caller.account ? caller.account.user : seed().user({ role: 'SELLER' }));
const customerOf = async (caller: Caller, own: boolean) => (own && caller.account ? caller.account.user : seed().user());

const CASES: Case[] = [
  { route: 'GET /v1/products', about: 'the catalogue', matrix: true, arrange: async () => ({ first: 1 }) },
  { route: 'GET /v1/products/{id}', about: 'an active product', matrix: true, arrange: async () => ({ id: gid('Product', activeProduct) }) },
  {
    route: 'POST /v1/products',
    about: 'a new draft',
    matrix: true,
    arrange: async () => ({ categoryId: gid('Category', category), title: `REST matrix ${randomUUID()}`, price: { amount: 100, currency: 'EUR' }, stock: 1 }),
  },
  {
    route: 'PATCH /v1/products/{id}',
    about: 'their own product',
    matrix: true,
    arrange: async (caller) => ({ id: gid('Product', await seed().product({ seller: await sellerOf(caller, true), category, status: 'DRAFT' })), expectedVersion: 1, title: 'REST edit' }),
  },
  {
    route: 'PATCH /v1/products/{id}',
    about: "another seller's product (IDOR)",
    arrange: async () => ({ id: gid('Product', await seed().product({ seller: await seed().user({ role: 'SELLER' }), category, status: 'DRAFT' })), expectedVersion: 1, title: 'Not yours' }),
  },
  {
    route: 'POST /v1/products/{id}/publish',
    about: 'their own draft',
    matrix: true,
    arrange: async (caller) => ({ id: gid('Product', await seed().product({ seller: await sellerOf(caller, true), category, status: 'DRAFT' })) }),
  },
  {
    route: 'POST /v1/products/{id}/archive',
    about: 'their own product',
    matrix: true,
    arrange: async (caller) => ({ id: gid('Product', await seed().product({ seller: await sellerOf(caller, true), category, status: 'ACTIVE' })) }),
  },
  {
    route: 'DELETE /v1/products/{id}',
    about: 'their own product',
    matrix: true,
    arrange: async (caller) => ({ id: gid('Product', await seed().product({ seller: await sellerOf(caller, true), category, status: 'ACTIVE' })) }),
  },
  {
    route: 'POST /v1/checkout',
    about: 'a cart',
    matrix: true,
    arrange: async () => ({ items: [{ productId: gid('Product', await seed().product({ category, stock: 5 })), quantity: 1 }] }),
  },
  { route: 'GET /v1/orders', about: 'their orders', arrange: async () => ({ first: 1 }) },
  {
    route: 'GET /v1/orders/{id}',
    about: 'their own order',
    matrix: true,
    arrange: async (caller) => {
      const product = await seed().product({ category, seller: caller.name === 'seller' ? await sellerOf(caller, true) : await seed().user({ role: 'SELLER' }) });
      return { id: gid('Order', await seed().order({ customer: caller.name === 'seller' ? await seed().user() : await customerOf(caller, true), items: [{ product }] })) };
    },
  },
  {
    route: 'GET /v1/orders/{id}',
    about: "another customer's order (IDOR)",
    arrange: async () => ({ id: gid('Order', await seed().order({ customer: await seed().user(), items: [{ product: await seed().product({ category }) }] })) }),
  },
  {
    route: 'POST /v1/orders/{id}/cancel',
    about: 'their own order',
    matrix: true,
    arrange: async (caller) => ({ id: gid('Order', await seed().order({ customer: await customerOf(caller, true), items: [{ product: await seed().product({ category }) }] })), expectedVersion: 1 }),
  },
  {
    route: 'POST /v1/orders/{id}/cancel',
    about: "another customer's order (IDOR)",
    arrange: async () => ({ id: gid('Order', await seed().order({ customer: await seed().user(), items: [{ product: await seed().product({ category }) }] })), expectedVersion: 1 }),
  },
  { route: 'GET /v1/webhook-endpoints', about: 'their endpoints', arrange: async () => ({ first: 1 }) },
  {
    route: 'POST /v1/webhook-endpoints',
    about: 'a new endpoint',
    arrange: async () => ({ url: 'https://hooks.example.com/marketplace', events: ['ORDER_CREATED'] }),
  },
  {
    route: 'DELETE /v1/webhook-endpoints/{id}',
    about: 'an endpoint that is not theirs (IDOR)',
    arrange: async () => ({ id: gid('WebhookEndpoint', { id: randomUUID() }) }),
  },
];

type Outcome = 'ok' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN' | `userError:${string}`;

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ extensions?: { code?: unknown } }>;
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let current = root;
  for (const key of keys) current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  return current;
}

function graphqlOutcome(route: RestRoute, body: GraphQLAnswer): Outcome {
  const code = body.errors?.[0]?.extensions?.code;
  if (code !== undefined) return (typeof code === 'string' ? code : 'unknown code') as Outcome;
  const value = valueAt(body.data, route.resultPath);
  if (value === null || value === undefined) return 'null';
  const userErrors = (value as { userErrors?: Array<{ code: string }> }).userErrors;
  return userErrors && userErrors.length > 0 ? `userError:${userErrors[0]?.code ?? ''}` : 'ok';
}

/** The REST status a GraphQL outcome must give on `route`. */
function restStatusOf(route: RestRoute, outcome: Outcome): number[] {
  switch (outcome) {
    case 'ok':
      return route.location ? [201] : [200];
    case 'null':
      return [route.absent === 'UNAUTHENTICATED' ? 401 : 404];
    case 'UNAUTHENTICATED':
      return [401];
    case 'FORBIDDEN':
      return [403];
    default:
      return outcome === 'userError:NOT_FOUND' ? [404, 422] : outcome === 'userError:VERSION_CONFLICT' || outcome === 'userError:INVALID_TRANSITION' ? [409] : [422];
  }
}

/** The REST request for `variables`: path parameters, then the query string or the body. */
function restRequest(route: RestRoute, variables: Record<string, unknown>): { path: string; init: RequestInit } {
  let path = route.path;
  const rest: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(variables)) {
    const variable = route.variables.find((v) => v.name === name);
    if (variable?.source === 'path') path = path.replace(`{${name}}`, encodeURIComponent(String(value)));
    else rest[name] = value;
  }
  if (route.method === 'GET' || route.method === 'DELETE') {
    const search = new URLSearchParams(Object.entries(rest).map(([name, value]): [string, string] => [name, String(value)]));
    return { path: `${path}${search.size > 0 ? `?${search.toString()}` : ''}`, init: { method: route.method } };
  }
  return { path, init: { method: route.method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(rest) } };
}

const shared = new Map<CallerName, Caller>();

beforeAll(async () => {
  const started = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  const s = seeder(started.db);
  const fixtureCategory = await s.category();
  setFixtures({ server: started, category: fixtureCategory, activeProduct: await s.product({ category: fixtureCategory }) });
  for (const name of CALLERS) shared.set(name, await makeCaller(name));
});

afterAll(async () => {
  await server.close();
});

describe('the REST routes and GraphQL', () => {
  it('are all covered by a case here', () => {
    expect([...routes.keys()].filter((key) => !CASES.some((c) => c.route === key))).toEqual([]);
  });

  for (const testCase of CASES) {
    describe(`${testCase.route} (${testCase.about})`, () => {
      for (const callerName of CALLERS) {
        it(`answers ${CALLER_LABELS[callerName]} as GraphQL does`, async () => {
          const route = routes.get(testCase.route);
          const caller = shared.get(callerName);
          if (!route || !caller) throw new Error(`no route ${testCase.route} or caller ${callerName}`);
          const key = (): Record<string, string> => (route.method === 'GET' || !caller.account ? {} : { 'idempotency-key': randomUUID() });

          const graphql = await server.graphql<Record<string, unknown>>(route.text, await testCase.arrange(caller), { headers: { ...caller.headers, ...key() } });
          const outcome = graphqlOutcome(route, graphql.body);
          const matrixRow = testCase.matrix ? MATRIX[`${route.operationType === 'query' ? 'Query' : 'Mutation'}.${route.root.node.name.value}`] : undefined;
          if (matrixRow) {
            const expected = matrixRow.expected[callerName];
            expect({ outcome: outcome.startsWith('userError:') ? 'ok' : outcome }).toEqual({ outcome: expected });
          }

          const { path, init } = restRequest(route, await testCase.arrange(caller));
          const response = await server.request(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...caller.headers, ...key() } });
          const text = await response.text();
          const allowed = restStatusOf(route, outcome);
          expect({ outcome, status: allowed.includes(response.status) ? allowed : response.status }).toEqual({ outcome, status: allowed });
          if (response.status >= 400) {
            const problem = JSON.parse(text) as { code?: string; requestId?: string };
            expect({ contentType: response.headers.get('content-type'), requestId: problem.requestId }).toEqual({
              contentType: 'application/problem+json; charset=utf-8',
              requestId: response.headers.get('x-request-id'),
            });
            if (outcome === 'UNAUTHENTICATED' || outcome === 'FORBIDDEN') expect(problem.code).toBe(outcome);
          }
        });
      }
    });
  }
});
