/**
 * Hostile and malformed requests, sent to every edge of /graphql (anonymous,
 * signed in, a keyed mutation, a persisted query by hash, GET) on both
 * executors and in production mode: none may answer 5xx, and every error
 * carries a registry code and the request id.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { errorCodes, type ErrorCode } from '../src/errors/codes.js';
import { MAX_REQUEST_JSON_DEPTH } from '../src/limits/query-limits.js';
import { createAccount } from './helpers/auth.js';
import { startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';

/** JSON text inserted as it is (for values JSON.stringify cannot produce, or must not walk). */
class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

interface Params {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
  extensions?: unknown;
}

/** What an edge sends when a case changes nothing: a valid request of that edge. */
interface Base {
  document: string;
  variables: Record<string, unknown>;
  /** The variables with `value` in a string argument of the document. */
  withText: (value: unknown) => Record<string, unknown>;
}

type EdgeName = 'anonymous' | 'signed in' | 'keyed mutation' | 'persisted query' | 'GET';

interface Case {
  name: string;
  /** The request's parameters, from the edge's valid ones. */
  params?: (base: Base) => Params;
  /** A POST body sent as these bytes instead of `params` (GET edges skip the case unless `get` is given). */
  body?: (base: Base) => string | Buffer;
  /** GET query-string parameters sent as they are (instead of those made from `params`). */
  get?: (base: Base) => Record<string, string>;
  headers?: Record<string, string>;
  /** The code the first error must carry (one of them); without it, any coded answer below 500 passes. */
  expect?: ErrorCode[];
}

const QUERY = 'query Page($first: Int, $search: String) { products(first: $first, filter: { search: $search }) { totalCount } }';
const MUTATION = 'mutation Touch($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }';
const DEEP = 5_000;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `{"a":{"a":...1...}}`, `levels` objects deep, written as text: nothing in the test walks it. */
function deepJson(levels: number): Raw {
  return raw(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
}

function json(value: unknown): string {
  if (value instanceof Raw) return value.text;
  return JSON.stringify(value);
}

function bodyOf(params: Params): string {
  const entries = Object.entries(params).filter(([, value]) => value !== undefined);
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${json(value)}`).join(',')}}`;
}

/** Query-string parameters for a GET; null when the parameters cannot be written as strings. */
function searchOf(params: Params): Record<string, string> | null {
  const search: Record<string, string> = {};
  for (const key of ['query', 'operationName'] as const) {
    const value = params[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') return null;
    search[key] = value;
  }
  for (const key of ['variables', 'extensions'] as const) {
    if (params[key] !== undefined) search[key] = json(params[key]);
  }
  return search;
}

const withVariables = (variables: unknown) => (base: Base): Params => ({ query: base.document, variables });
const withOperationName = (operationName: unknown) => (base: Base): Params => ({ query: base.document, variables: base.variables, operationName });
const withExtensions = (extensions: unknown) => (base: Base): Params => ({ query: base.document, variables: base.variables, extensions });

const CASES: Case[] = [
  { name: 'an operationName that names no operation', params: withOperationName('Nope'), expect: ['OPERATION_RESOLUTION_FAILURE'] },
  { name: 'an empty operationName', params: withOperationName(''), expect: ['OPERATION_RESOLUTION_FAILURE'] },
  { name: 'a NUL byte in operationName', params: withOperationName('Page\u0000'), expect: ['OPERATION_RESOLUTION_FAILURE'] },
  {
    name: 'two operations and no operationName',
    params: (base) => ({ query: `${base.document} query Other { __typename }`, variables: base.variables }),
    expect: ['OPERATION_RESOLUTION_FAILURE'],
  },
  // On GET, so deep a value makes the URL longer than the headers may be (431).
  { name: `variables nested ${DEEP} levels deep`, params: withVariables(deepJson(DEEP)), expect: ['QUERY_TOO_COMPLEX', 'REQUEST_HEADER_FIELDS_TOO_LARGE'] },
  {
    name: `variables one level over the depth limit`,
    params: withVariables(deepJson(MAX_REQUEST_JSON_DEPTH + 1)),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  { name: `extensions nested ${DEEP} levels deep`, params: withExtensions(deepJson(DEEP)), expect: ['QUERY_TOO_COMPLEX', 'REQUEST_HEADER_FIELDS_TOO_LARGE'] },
  {
    name: 'an array nested deep inside variables',
    params: withVariables(raw(`{"input":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`)),
    expect: ['QUERY_TOO_COMPLEX', 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  },
  {
    name: 'a persisted-query hash that does not match the query',
    params: (base) => ({ query: base.document, variables: base.variables, extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ other }') } } }),
    expect: ['BAD_REQUEST'],
  },
  {
    name: 'a persisted query of an unknown version',
    params: (base) => ({ query: base.document, variables: base.variables, extensions: { persistedQuery: { version: 2, sha256Hash: sha256(base.document) } } }),
    expect: ['BAD_REQUEST'],
  },
  { name: 'persistedQuery that is a string', params: withExtensions({ persistedQuery: 'x' }), expect: ['BAD_REQUEST'] },
  { name: 'extensions that are an array', params: withExtensions([1]), expect: ['BAD_REQUEST'] },
  { name: 'extensions that are a string', params: withExtensions('x'), expect: ['BAD_REQUEST'] },
  { name: 'variables that are an array', params: withVariables([1, 2]), expect: ['BAD_REQUEST'] },
  { name: 'variables that are a number', params: withVariables(7), expect: ['BAD_REQUEST'] },
  { name: 'variables that are a string', params: withVariables('{"first":1}'), expect: ['BAD_REQUEST'] },
  { name: 'a query that is a number', params: (base) => ({ query: 5, variables: base.variables }), expect: ['BAD_REQUEST'] },
  { name: 'a query that is an object', params: (base) => ({ query: { text: base.document }, variables: base.variables }), expect: ['BAD_REQUEST'] },
  { name: 'an operationName that is an object', params: withOperationName({ name: 'Page' }), expect: ['BAD_REQUEST'] },
  { name: 'a NUL byte in the query text', params: (base) => ({ query: `${base.document}\u0000`, variables: base.variables }), expect: ['GRAPHQL_PARSE_FAILED'] },
  {
    name: 'a NUL byte in a variable name',
    params: (base) => ({ query: base.document, variables: { ...base.variables, 'first\u0000': 1 } }),
  },
  { name: 'a NUL byte in a variable value', params: (base) => ({ query: base.document, variables: base.withText('a\u0000') }), expect: ['BAD_USER_INPUT'] },
  { name: 'a number too large for JSON (1e400)', params: withVariables(raw('{"first":1e400,"search":1e400,"input":{"displayName":1e400}}')), expect: ['BAD_USER_INPUT'] },
  {
    name: 'an integer beyond 2^53',
    params: withVariables(raw('{"first":123456789012345678901234567890,"search":123456789012345678901234567890,"input":{"displayName":123456789012345678901234567890}}')),
    expect: ['BAD_USER_INPUT'],
  },
  { name: 'arrays where input objects are expected', params: withVariables({ first: [], input: [] }), expect: ['BAD_USER_INPUT'] },
  {
    name: 'duplicate JSON keys',
    body: (base) => `{"query":${JSON.stringify(base.document)},"query":5,"variables":${JSON.stringify(base.variables)}}`,
    expect: ['BAD_REQUEST'],
  },
  { name: 'a __proto__ key in variables', params: withVariables(raw('{"__proto__":{"first":1},"input":{}}')), expect: ['BAD_REQUEST'] },
  { name: 'a constructor.prototype key in variables', params: withVariables(raw('{"constructor":{"prototype":{"x":1}},"input":{}}')), expect: ['BAD_REQUEST'] },
  {
    name: 'invalid UTF-8 in the body',
    body: (base) =>
      Buffer.concat([Buffer.from(`{"query":${JSON.stringify(base.document)},"operationName":"`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
    expect: ['OPERATION_RESOLUTION_FAILURE'],
  },
  {
    name: 'more unknown directives than allowed',
    params: (base) => ({
      query: base.document.replace(/\{ (\w+)/, `{ $1 ${Array.from({ length: 10 }, (_, i) => `@x${i}`).join(' ')}`),
      variables: base.variables,
    }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  { name: 'an empty Idempotency-Key', params: (base) => ({ query: base.document, variables: base.variables }), headers: { 'idempotency-key': '' } },
  { name: 'an Idempotency-Key of 300 characters', params: (base) => ({ query: base.document, variables: base.variables }), headers: { 'idempotency-key': 'k'.repeat(300) } },
  { name: 'a non-ASCII Idempotency-Key', params: (base) => ({ query: base.document, variables: base.variables }), headers: { 'idempotency-key': 'cl\u00e9' } },
  { name: 'an Idempotency-Key with a tab', params: (base) => ({ query: base.document, variables: base.variables }), headers: { 'idempotency-key': 'a\tb' } },
  {
    name: 'an Accept header that names no JSON type',
    params: (base) => ({ query: base.document, variables: base.variables, operationName: 'Nope' }),
    headers: { accept: 'image/png' },
  },
  {
    name: 'malformed JSON in GET parameters',
    get: (base) => ({ query: base.document, variables: '{"first":', extensions: '{"persistedQuery":' }),
    expect: ['BAD_REQUEST'],
  },
];

interface Edge {
  name: EdgeName;
  base: Base;
  headers: () => Record<string, string>;
  /** The parameters this edge sends for a case's parameters. */
  transform?: (params: Params) => Params;
  method: 'GET' | 'POST';
}

/** Sends the registered document by hash alone; another text is sent with its hash (registering it). */
function asPersisted(params: Params): Params {
  const { query, ...rest } = params;
  if (rest.extensions !== undefined) return params;
  if (typeof query !== 'string') return { ...params, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(QUERY) } } };
  const persistedQuery = { version: 1, sha256Hash: sha256(query) };
  return query === QUERY ? { ...rest, extensions: { persistedQuery } } : { ...params, extensions: { persistedQuery } };
}

function edgesOf(authorization: () => string): Edge[] {
  const queryBase: Base = { document: QUERY, variables: { first: 1 }, withText: (search) => ({ first: 1, search }) };
  return [
    { name: 'anonymous', base: queryBase, headers: () => ({}), method: 'POST' },
    { name: 'signed in', base: queryBase, headers: () => ({ authorization: authorization() }), method: 'POST' },
    {
      name: 'keyed mutation',
      base: { document: MUTATION, variables: { input: {} }, withText: (displayName) => ({ input: { displayName } }) },
      headers: () => ({ authorization: authorization(), 'idempotency-key': randomUUID() }),
      method: 'POST',
    },
    { name: 'persisted query', base: queryBase, headers: () => ({}), transform: asPersisted, method: 'POST' },
    { name: 'GET', base: queryBase, headers: () => ({ 'apollo-require-preflight': 'true' }), method: 'GET' },
  ];
}

interface Answer {
  status: number;
  requestId: string | null;
  text: string;
}

async function send(server: TestServer, edge: Edge, testCase: Case): Promise<Answer | null> {
  const headers: Record<string, string> = { accept: 'application/graphql-response+json, application/json;q=0.9', ...edge.headers(), ...testCase.headers };
  let response: Response;
  if (edge.method === 'GET') {
    const params = testCase.params ? (edge.transform ?? ((p: Params) => p))(testCase.params(edge.base)) : undefined;
    const search = testCase.get ? testCase.get(edge.base) : params ? searchOf(params) : null;
    if (search === null) return null;
    response = await server.request(`/graphql?${new URLSearchParams(search).toString()}`, { headers });
  } else {
    let body: string | Buffer;
    if (testCase.body) body = testCase.body(edge.base);
    else if (testCase.params) body = bodyOf((edge.transform ?? ((p: Params) => p))(testCase.params(edge.base)));
    else return null;
    response = await server.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  }
  return { status: response.status, requestId: response.headers.get('x-request-id'), text: await response.text() };
}

/** What is wrong with an answer, or null when it is a coded answer below 500 (of the expected code, if any). */
function problemWith(answer: Answer, testCase: Case): string | null {
  if (answer.status >= 500) return `status ${answer.status}: ${answer.text.slice(0, 300)}`;
  let body: GraphQLResponse<unknown>;
  try {
    body = JSON.parse(answer.text) as GraphQLResponse<unknown>;
  } catch {
    return `status ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 200)}`;
  }
  if (body.errors === undefined) return testCase.expect ? `no error (status ${answer.status}), expected ${testCase.expect.join(' or ')}` : null;
  for (const error of body.errors) {
    const code = error.extensions?.['code'];
    if (typeof code !== 'string' || !(code in errorCodes)) return `an error without a registry code: ${JSON.stringify(error)}`;
    if (code === 'INTERNAL_SERVER_ERROR' || code === 'SERVICE_UNAVAILABLE') return `${code}: ${answer.text.slice(0, 300)}`;
    if (error.extensions?.['requestId'] !== answer.requestId) return `an error without the request id: ${JSON.stringify(error)}`;
  }
  if (body.errors.length > 3) return `${body.errors.length} errors: ${answer.text.slice(0, 300)}`;
  const first = String(body.errors[0]?.extensions?.['code']);
  if (testCase.expect && !testCase.expect.includes(first as ErrorCode)) return `${first} (status ${answer.status}), expected ${testCase.expect.join(' or ')}: ${answer.text.slice(0, 300)}`;
  return null;
}

interface Setup {
  name: string;
  env: () => Promise<Record<string, string>>;
}

const SETUPS: Setup[] = [
  { name: 'graphql-jit executor (with the response cache)', env: async () => ({ RESPONSE_CACHE: 'memory' }) },
  { name: 'graphql-js executor', env: async () => ({ GRAPHQL_EXECUTOR: 'graphql-js' }) },
  { name: 'production', env: async () => ({ NODE_ENV: 'production', LOG_FORMAT: 'json', LOG_LEVEL: 'silent', JWT_SIGNING_KEYS: await generateSigningJwks() }) },
];

describe.each(SETUPS)('malformed requests on the $name', (setup) => {
  let server: TestServer;
  let authorization = '';

  beforeAll(async () => {
    server = await startTestServer({ env: await setup.env() });
    const account = await createAccount(server);
    authorization = `Bearer ${account.accessToken}`;
    // Registers the edge's document, so that the persisted-query edge sends it by hash alone.
    const registered = await server.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { first: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(QUERY) } } }),
    });
    expect(registered.status).toBe(200);
  });

  afterAll(async () => {
    await server.close();
  });

  it.each(edgesOf(() => authorization).map((edge) => [edge.name, edge] as const))(
    'answers the valid request of the %s edge, and every malformed one with a coded error below 500',
    async (_name, edge) => {
      // First, so that an anonymous query's answer is in the response cache while the malformed ones arrive.
      const valid = await send(server, edge, { name: 'valid', params: (base) => ({ query: base.document, variables: base.variables }) });
      expect({ status: valid?.status, errors: (JSON.parse(valid?.text ?? '{}') as GraphQLResponse<unknown>).errors }).toEqual({ status: 200, errors: undefined });
      const problems: string[] = [];
      let sent = 0;
      for (const testCase of CASES) {
        const answer = await send(server, edge, testCase);
        if (answer === null) continue;
        sent += 1;
        const problem = problemWith(answer, testCase);
        if (problem) problems.push(`${testCase.name}: ${problem}`);
      }
      expect(problems).toEqual([]);
      expect(sent).toBeGreaterThan(edge.method === 'GET' ? 20 : 30);
    },
  );
});
