/**
 * A replay answers the caller as they are now, and stored responses hold no
 * secret: over HTTP on real PostgreSQL. Keys are scoped to the credential
 * that sent the first request; the operation's permission rules run again
 * before a replay; refusals are never stored; API keys and tokens in stored
 * responses are sealed. Then every Mutation field of the schema is sent with
 * a key by every kind of caller: no answer is a server error.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
} from 'graphql';

import { buildSchema } from '../src/graphql/schema.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

async function post(body: object, headers: Record<string, string>): Promise<RawResponse> {
  const response = await server.request('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as RawResponse['json'] };
}

const keyed = (headers: Record<string, string>, key: string) => ({ ...headers, 'idempotency-key': key });

/** What a client can compare between two refusals: status, codes and messages, and that no data came back. */
function refusalOf(res: RawResponse) {
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed'),
    data: res.json.data ?? null,
    errors: (res.json.errors ?? []).map((error) => ({ code: error.extensions?.code, message: error.message })),
  };
}

async function storedRows(key: string) {
  return server.db.selectFrom('idempotency_keys').select(['credential', 'status', 'response_body']).where('key', '=', key).execute();
}

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { orders { id status total { amount currency } customer { displayName } items { title quantity } } userErrors { code } }
}`;
const MARK_PAID = `mutation Pay($input: MarkOrderPaidInput!) {
  markOrderPaid(input: $input) { order { id status total { amount } customer { displayName } items { title } } userErrors { code } }
}`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { plaintextKey apiKey { id name } userErrors { code } } }`;
const LOG_IN = `mutation ($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken userErrors { code } } }`;
const REFRESH = `mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { accessToken refreshToken userErrors { code } } }`;

let customer: Account;
let catalogKey: { headers: Record<string, string> };
let product: ProductRow;

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000', LOGIN_LIMIT_PER_EMAIL_IP: '10000' } });
  customer = await createAccount(server, { role: 'CUSTOMER' });
  catalogKey = await createApiKey(server, customer, ['CATALOG_READ']);
  const seed = seeder(server.db);
  product = await seed.product({ seller: await seed.user({ role: 'SELLER' }), price: 1500, stock: 1000 });
});

afterAll(async () => {
  await server.close();
});

describe('a replay answers the caller as they are now', () => {
  it('gives a scoped API key that resends its owner\'s keyed checkout the refusal a fresh call gets, with no order in it', async () => {
    const key = randomUUID();
    const body = { query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } } };
    const first = await post(body, keyed(customer.headers, key));
    expect(first.status).toBe(200);
    expect(first.text).toContain('PENDING_PAYMENT');

    const replayByKey = await post(body, keyed(catalogKey.headers, key));
    const freshByKey = await post(body, keyed(catalogKey.headers, randomUUID()));
    expect(refusalOf(replayByKey)).toEqual(refusalOf(freshByKey));
    expect(refusalOf(replayByKey)).toMatchObject({ status: 200, replayed: null, data: null, errors: [{ code: 'FORBIDDEN' }] });
    expect(replayByKey.text).not.toContain('PENDING_PAYMENT');

    // The session that sent it still gets the stored answer, byte for byte.
    const replay = await post(body, keyed(customer.headers, key));
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('gives an admin demoted since a keyed markOrderPaid the refusal, without the order', async () => {
    const admin = await createAccount(server, { role: 'ADMIN' });
    const order = await seeder(server.db).order({ customer: customer.user, items: [{ product }] });
    const key = randomUUID();
    const body = { query: MARK_PAID, variables: { input: { orderId: gid('Order', order), expectedVersion: 1 } } };
    const first = await post(body, keyed(admin.headers, key));
    expect(first.json.data).toMatchObject({ markOrderPaid: { order: { status: 'PAID' }, userErrors: [] } });
    expect((await post(body, keyed(admin.headers, key))).headers.get('idempotent-replayed')).toBe('true');

    await server.db.updateTable('users').set({ role: 'CUSTOMER' }).where('id', '=', admin.user.id).execute();
    const replay = await post(body, keyed(admin.headers, key));
    const fresh = await post(body, keyed(admin.headers, randomUUID()));
    expect(refusalOf(replay)).toEqual(refusalOf(fresh));
    expect(refusalOf(replay)).toMatchObject({ replayed: null, data: null, errors: [{ code: 'FORBIDDEN' }] });
    expect(replay.text).not.toContain(customer.user.display_name);
    expect(replay.text).not.toContain('PAID');

    // Promoted again, the same key replays what was stored.
    await server.db.updateTable('users').set({ role: 'ADMIN' }).where('id', '=', admin.user.id).execute();
    const again = await post(body, keyed(admin.headers, key));
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('never hands a scoped key the plaintext of a wider key its owner created with the same Idempotency-Key', async () => {
    const key = randomUUID();
    const body = { query: CREATE_KEY, variables: { input: { name: 'wide', scopes: ['ORDERS_READ', 'ORDERS_WRITE'] } } };
    const first = await post(body, keyed(customer.headers, key));
    const plaintext = (first.json.data?.['createApiKey'] as { plaintextKey: string }).plaintextKey;
    expect(plaintext).toMatch(/^mk_/);

    const replay = await post(body, keyed(catalogKey.headers, key));
    const fresh = await post(body, keyed(catalogKey.headers, randomUUID()));
    expect(refusalOf(replay)).toEqual(refusalOf(fresh));
    expect(refusalOf(replay)).toMatchObject({ data: null, errors: [{ code: 'FORBIDDEN' }] });
    expect(replay.text).not.toContain(plaintext);
  });

  it('never stores a refusal: the owner\'s session then runs the request with the same key', async () => {
    const key = randomUUID();
    const body = { query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 2 }] } } };
    const refused = await post(body, keyed(catalogKey.headers, key));
    expect(refusalOf(refused)).toMatchObject({ data: null, errors: [{ code: 'FORBIDDEN' }] });
    expect(await storedRows(key)).toEqual([]);

    const run = await post(body, keyed(customer.headers, key));
    expect(run.status).toBe(200);
    expect(run.headers.get('idempotent-replayed')).toBeNull();
    expect(run.json.data).toMatchObject({ checkout: { orders: [{ status: 'PENDING_PAYMENT' }], userErrors: [] } });
    expect(await storedRows(key)).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);
  });

  it('scopes a key to the credential: the same key from another session of the same user is a new request', async () => {
    const secondSession = await post(
      { query: LOG_IN, variables: { input: { email: customer.email, password: customer.password, refreshTokenDelivery: 'PAYLOAD' } } },
      {},
    );
    const token = (secondSession.json.data?.['logIn'] as { accessToken: string }).accessToken;
    const key = randomUUID();
    const body = { query: CREATE_KEY, variables: { input: { name: 'per-credential', scopes: ['CATALOG_READ'] } } };
    const first = await post(body, keyed(customer.headers, key));
    const other = await post(body, keyed({ authorization: `Bearer ${token}` }, key));
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.text).not.toBe(first.text);
    expect((await storedRows(key)).map((row) => row.credential.split(':')[0])).toEqual(['session', 'session']);
  });
});

describe('stored responses hold no secret in plaintext', () => {
  it('seals createApiKey, logIn and refreshSession answers at rest, and replays them byte for byte', async () => {
    const owner = await createAccount(server, { role: 'CUSTOMER' });
    const sent: Array<{ key: string; body: object; secrets: (res: RawResponse) => string[] }> = [
      {
        key: randomUUID(),
        body: { query: CREATE_KEY, variables: { input: { name: 'sealed', scopes: ['CATALOG_READ'] } } },
        secrets: (res) => [(res.json.data?.['createApiKey'] as { plaintextKey: string }).plaintextKey],
      },
      {
        key: randomUUID(),
        body: { query: LOG_IN, variables: { input: { email: owner.email, password: owner.password, refreshTokenDelivery: 'PAYLOAD' } } },
        secrets: (res) => {
          const payload = res.json.data?.['logIn'] as { accessToken: string; refreshToken: string };
          return [payload.accessToken, payload.refreshToken];
        },
      },
      {
        key: randomUUID(),
        body: { query: REFRESH, variables: { input: { refreshToken: owner.refreshToken, refreshTokenDelivery: 'PAYLOAD' } } },
        secrets: (res) => {
          const payload = res.json.data?.['refreshSession'] as { accessToken: string; refreshToken: string };
          return [payload.accessToken, payload.refreshToken];
        },
      },
    ];
    for (const request of sent) {
      const first = await post(request.body, keyed(owner.headers, request.key));
      expect(first.status).toBe(200);
      const secrets = request.secrets(first);
      expect(secrets.every((secret) => secret.length > 20)).toBe(true);

      const rows = await storedRows(request.key);
      expect(rows).toHaveLength(1);
      const stored = rows[0]?.response_body ?? '';
      expect(stored).toMatch(/^v1\./);
      for (const secret of secrets) {
        expect(stored).not.toContain(secret);
        // Not in any column of any record either.
        const hits = await server.db
          .selectFrom('idempotency_keys')
          .select('key')
          .where((eb) => eb.or([eb('response_body', 'like', `%${secret}%`), eb('fingerprint', 'like', `%${secret}%`)]))
          .execute();
        expect(hits).toEqual([]);
      }

      const replay = await post(request.body, keyed(owner.headers, request.key));
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.text).toBe(first.text);
    }
  });

  it('does not replay a sealed body moved onto another record', async () => {
    const key = randomUUID();
    const body = { query: CREATE_KEY, variables: { input: { name: 'moved', scopes: ['CATALOG_READ'] } } };
    await post(body, keyed(customer.headers, key));
    const other = randomUUID();
    const otherBody = { query: CREATE_KEY, variables: { input: { name: 'moved-2', scopes: ['CATALOG_READ'] } } };
    await post(otherBody, keyed(customer.headers, other));
    const [source] = await storedRows(key);
    await server.db.updateTable('idempotency_keys').set({ response_body: source?.response_body ?? '' }).where('key', '=', other).execute();
    const replay = await post(otherBody, keyed(customer.headers, other));
    expect(replay.status).toBe(422);
    expect(replay.json.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(replay.text).not.toContain('mk_');
  });
});

/** A value of the type that passes coercion, so the mutation really runs (ids point nowhere; that is a user error, not a crash). */
function sample(type: GraphQLInputType, depth = 0): unknown {
  if (isNonNullType(type)) return sample(type.ofType, depth);
  if (isListType(type)) return [sample(type.ofType, depth)];
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0]?.value;
  if (isInputObjectType(named)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(named.getFields())) {
      if (isNonNullType(field.type) || depth === 0) value[field.name] = sample(field.type, depth + 1);
    }
    return value;
  }
  if (isScalarType(named)) {
    const samples: Record<string, unknown> = {
      ID: gid('Product', product),
      String: 'sample text',
      Int: 1,
      Float: 1,
      Boolean: false,
      DateTime: '2030-01-01T00:00:00Z',
      EmailAddress: 'sample@example.com',
      URL: 'https://example.com/',
      PositiveInt: 1,
      NonNegativeInt: 0,
      NonEmptyString: 'sample',
    };
    return named.name in samples ? samples[named.name] : 'sample';
  }
  return null;
}

describe('every mutation with an Idempotency-Key', () => {
  it('answers every Mutation field for every kind of caller without a server error', async () => {
    const schema = buildSchema();
    const mutation = schema.getMutationType();
    if (!mutation) throw new Error('the schema has no mutations');
    // Those that end sessions go last, so the others run signed in.
    const ending = new Set(['logOut', 'logOutEverywhere', 'changePassword', 'revokeSession', 'revokeApiKey']);
    const fields = Object.values(mutation.getFields()).sort((a, b) => Number(ending.has(a.name)) - Number(ending.has(b.name)));
    expect(fields.length).toBeGreaterThan(20);

    const callers: Array<[string, () => Promise<Record<string, string>>]> = [
      ['anonymous', async () => ({})],
      ['customer', async () => (await createAccount(server, { role: 'CUSTOMER' })).headers],
      ['seller', async () => (await createAccount(server, { role: 'SELLER' })).headers],
      ['admin', async () => (await createAccount(server, { role: 'ADMIN' })).headers],
      ['API key, every scope', async () => (await createApiKey(server, await createAccount(server, { role: 'SELLER' }), ['CATALOG_READ', 'CATALOG_WRITE', 'ORDERS_READ', 'ORDERS_WRITE', 'REVIEWS_WRITE'])).headers],
      ['API key, catalogue only', async () => (await createApiKey(server, await createAccount(server, { role: 'CUSTOMER' }), ['CATALOG_READ'])).headers],
    ];
    const failures: string[] = [];
    let ran = 0;
    for (const [caller, headersOf] of callers) {
      const headers = await headersOf();
      for (const field of fields) {
        const variables: Record<string, unknown> = {};
        const definitions: string[] = [];
        const args: string[] = [];
        for (const arg of field.args) {
          definitions.push(`$${arg.name}: ${arg.type.toString()}`);
          args.push(`${arg.name}: $${arg.name}`);
          variables[arg.name] = sample(arg.type);
        }
        const query = `mutation${definitions.length ? `(${definitions.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''} { __typename } }`;
        const key = randomUUID();
        const first = await post({ query, variables }, keyed(headers, key));
        const again = await post({ query, variables }, keyed(headers, key));
        for (const res of [first, again]) {
          if (res.status >= 500) failures.push(`${caller} ${field.name}: ${res.status} ${res.text.slice(0, 300)}`);
        }
        if (first.status === 200 && first.json.data) ran += 1;
      }
    }
    expect(failures).toEqual([]);
    // Most fields really ran for someone (not all refused before execution).
    expect(ran).toBeGreaterThan(fields.length);
  }, 120_000);
});
