/**
 * Webhook endpoints managed over HTTP on real PostgreSQL, with the test-only
 * allowance off (as in production): the URL checks that refuse loopback,
 * private, link-local, metadata and other non-public targets (IP literals and
 * names that resolve to them) and plain http; the secret shown once; the
 * endpoint limit; the owner's list; and another seller's endpoints and
 * deliveries answering exactly like missing ones.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { toGlobalId } from '../src/graphql/global-id.js';
import { createAccount, type Account } from './helpers/auth.js';
import { gid } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { CREATE, register, sendTest, type Data } from './helpers/webhooks.js';

let server: TestServer;
let seller: Account;
let otherSeller: Account;
let admin: Account;

/** Public IP literals: accepted without DNS (nothing is sent to them: no delivery runs in this file). */
const PUBLIC = 'https://93.184.215.14/hooks';

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000', WEBHOOK_MAX_ENDPOINTS: '3' } });
  seller = await createAccount(server, { role: 'SELLER' });
  otherSeller = await createAccount(server, { role: 'SELLER' });
  admin = await createAccount(server, { role: 'ADMIN' });
});

afterAll(async () => {
  await server.close();
});

async function create(owner: Account, url: string, events: string[] = ['ORDER_CREATED']) {
  const res = await server.graphql<{ createWebhookEndpoint: { endpoint: Data | null; secret: string | null; userErrors: Array<{ field: string[]; code: string; message: string }> } }>(
    CREATE,
    { input: { url, events } },
    { headers: owner.headers },
  );
  expect(res.body.errors).toBeUndefined();
  const payload = res.body.data?.createWebhookEndpoint;
  if (!payload) throw new Error('no payload');
  return payload;
}

describe('registration refuses targets that are not public https', () => {
  const refused: Array<[string, RegExp]> = [
    ['https://127.0.0.1/hook', /127\.0\.0\.1 is a loopback address/],
    ['https://[::1]/hook', /::1 is a loopback address/],
    ['https://10.0.0.1/hook', /10\.0\.0\.1 is a private address/],
    ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a linkLocal address/],
    // A name resolving to loopback (through the system resolver, as any name is checked).
    ['https://localhost/hook', /The host localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/],
    ['https://[::ffff:127.0.0.1]/hook', /is a loopback address/],
    ['https://100.64.0.1/hook', /carrierGradeNat/],
    ['https://[fd00::1]/hook', /uniqueLocal/],
    ['https://0.0.0.0/hook', /unspecified/],
    ['https://224.0.0.1/hook', /multicast/],
    ['http://93.184.215.14/hook', /must use https/],
    ['https://user:pass@93.184.215.14/hook', /user name or password/],
    ['not a url', /absolute https/],
    [`https://93.184.215.14/${'a'.repeat(2100)}`, /longer than 2048/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url.length > 60 ? `${url.slice(0, 40)}… (too long)` : url}`, async () => {
      const payload = await create(seller, url);
      expect(payload.endpoint).toBeNull();
      expect(payload.secret).toBeNull();
      expect(payload.userErrors).toEqual([{ field: ['input', 'url'], code: 'INVALID', message: expect.stringMatching(message) }]);
    });
  }

  it('refuses the same targets when an update changes the URL', async () => {
    const endpoint = await register(server, otherSeller, PUBLIC);
    const res = await server.graphql<{ updateWebhookEndpoint: { userErrors: Array<{ code: string }> } }>(
      'mutation ($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { url } userErrors { code } } }',
      { input: { endpointId: endpoint.id, url: 'https://169.254.169.254/' } },
      { headers: otherSeller.headers },
    );
    expect(res.body.data?.updateWebhookEndpoint.userErrors).toEqual([{ code: 'INVALID' }]);
    const row = await server.db.selectFrom('webhook_endpoints').select('url').where('id', '=', endpoint.rawId).executeTakeFirstOrThrow();
    expect(row.url).toBe(PUBLIC);
    await server.db.deleteFrom('webhook_endpoints').where('id', '=', endpoint.rawId).execute();
  });
});

describe('an endpoint', () => {
  it('is created with its secret shown once, and listed without it', async () => {
    const payload = await create(seller, PUBLIC, ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CREATED']);
    expect(payload.userErrors).toEqual([]);
    expect(payload.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(payload.endpoint).toMatchObject({ url: PUBLIC, events: ['ORDER_CREATED', 'ORDER_PAID'], enabled: true });

    const list = await server.graphql<{ viewer: { webhookEndpoints: { totalCount: number; nodes: Data[] } } }>(
      '{ viewer { webhookEndpoints { totalCount nodes { id url events enabled deliveries { totalCount } } } } }',
      {},
      { headers: seller.headers },
    );
    expect(list.body.data?.viewer.webhookEndpoints.nodes).toContainEqual({ id: payload.endpoint?.['id'], url: PUBLIC, events: ['ORDER_CREATED', 'ORDER_PAID'], enabled: true, deliveries: { totalCount: 0 } });
    expect(JSON.stringify(list.body)).not.toContain(payload.secret?.slice('whsec_'.length) ?? 'x');
    const asked = await server.graphql('{ viewer { webhookEndpoints { nodes { secret } } } }', {}, { headers: seller.headers });
    expect(asked.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('needs at least one event', async () => {
    const payload = await create(seller, PUBLIC, []);
    expect(payload.userErrors).toEqual([{ field: ['input', 'events'], code: 'REQUIRED', message: 'Choose at least one event.' }]);
  });

  it('is limited per account (WEBHOOK_MAX_ENDPOINTS)', async () => {
    const owner = await createAccount(server, { role: 'SELLER' });
    for (let n = 0; n < 3; n += 1) expect((await create(owner, PUBLIC)).userErrors).toEqual([]);
    const fourth = await create(owner, PUBLIC);
    expect(fourth.userErrors).toEqual([{ field: null, code: 'OUT_OF_RANGE', message: 'An account has at most 3 webhook endpoints; delete one first.' }]);
  });

  it('lists its deliveries filtered by status', async () => {
    const owner = await createAccount(server, { role: 'SELLER' });
    const endpoint = await register(server, owner, PUBLIC);
    const first = await sendTest(server, owner, endpoint.id);
    await sendTest(server, owner, endpoint.id);
    await server.db.updateTable('webhook_deliveries').set({ status: 'FAILED', next_attempt_at: null }).where('id', '=', first).execute();
    const page = async (status: string | null) => {
      const res = await server.graphql<{ viewer: { webhookEndpoints: { nodes: Array<{ deliveries: { totalCount: number; nodes: Array<{ id: string; status: string; eventType: string }> } }> } } }>(
        'query ($status: WebhookDeliveryStatus) { viewer { webhookEndpoints { nodes { deliveries(first: 10, filter: { status: $status }) { totalCount nodes { id status eventType } } } } } }',
        { status },
        { headers: owner.headers },
      );
      return res.body.data?.viewer.webhookEndpoints.nodes[0]?.deliveries;
    };
    expect((await page(null))?.totalCount).toBe(2);
    expect(await page('FAILED')).toEqual({ totalCount: 1, nodes: [{ id: toGlobalId('WebhookDelivery', first), status: 'FAILED', eventType: 'webhook.test' }] });
    expect((await page('PENDING'))?.nodes.map((node) => node.status)).toEqual(['PENDING']);
  });
});

it('refuses a test message and a redelivery to a disabled endpoint, and sends again once it is enabled', async () => {
  const owner = await createAccount(server, { role: 'SELLER' });
  const endpoint = await register(server, owner, PUBLIC);
  const deliveryId = toGlobalId('WebhookDelivery', await sendTest(server, owner, endpoint.id));
  const run = async (document: string, input: Data) => (await server.graphql<Record<string, { userErrors: Array<{ code: string }> }>>(document, { input }, { headers: owner.headers })).body.data;
  const toggle = (name: string) => `mutation ($input: ${name[0]?.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $input) { endpoint { enabled disabledReason } userErrors { code } } }`;
  expect(await run(toggle('disableWebhookEndpoint'), { endpointId: endpoint.id })).toEqual({ disableWebhookEndpoint: { endpoint: { enabled: false, disabledReason: 'Disabled by its owner.' }, userErrors: [] } });
  const test = 'mutation ($input: SendTestWebhookInput!) { sendTestWebhook(input: $input) { delivery { id } userErrors { code } } }';
  const redeliver = 'mutation ($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { delivery { id } userErrors { code } } }';
  expect(await run(test, { endpointId: endpoint.id })).toEqual({ sendTestWebhook: { delivery: null, userErrors: [{ code: 'INVALID_TRANSITION' }] } });
  expect(await run(redeliver, { deliveryId })).toEqual({ redeliverWebhook: { delivery: null, userErrors: [{ code: 'INVALID_TRANSITION' }] } });
  expect(await run(toggle('enableWebhookEndpoint'), { endpointId: endpoint.id })).toEqual({ enableWebhookEndpoint: { endpoint: { enabled: true, disabledReason: null }, userErrors: [] } });
  expect(await run(test, { endpointId: endpoint.id })).toEqual({ sendTestWebhook: { delivery: { id: expect.any(String) }, userErrors: [] } });
});

describe("another seller's endpoints and deliveries", () => {
  // Each test registers for a new seller: the endpoint limit of this file's server is 3.
  beforeEach(async () => {
    otherSeller = await createAccount(server, { role: 'SELLER' });
  });

  const MUTATIONS: Array<[string, string, string]> = [
    ['updateWebhookEndpoint', 'UpdateWebhookEndpointInput', 'endpointId'],
    ['rotateWebhookSecret', 'RotateWebhookSecretInput', 'endpointId'],
    ['disableWebhookEndpoint', 'DisableWebhookEndpointInput', 'endpointId'],
    ['enableWebhookEndpoint', 'EnableWebhookEndpointInput', 'endpointId'],
    ['deleteWebhookEndpoint', 'DeleteWebhookEndpointInput', 'endpointId'],
    ['sendTestWebhook', 'SendTestWebhookInput', 'endpointId'],
    ['redeliverWebhook', 'RedeliverWebhookInput', 'deliveryId'],
  ];

  for (const [name, input, field] of MUTATIONS) {
    it(`${name} answers another seller's id exactly like a missing one, and changes nothing`, async () => {
      const endpoint = await register(server, otherSeller, PUBLIC);
      const deliveryId = await sendTest(server, otherSeller, endpoint.id);
      const before = await server.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpoint.rawId).executeTakeFirstOrThrow();
      const theirs = field === 'endpointId' ? endpoint.id : toGlobalId('WebhookDelivery', deliveryId);
      const missing = toGlobalId(field === 'endpointId' ? 'WebhookEndpoint' : 'WebhookDelivery', '00000000-0000-4000-8000-000000000000');
      const document = `mutation ($input: ${input}!) { ${name}(input: $input) { userErrors { field code message } } }`;
      const answer = async (id: string) => {
        const { data, errors } = (await server.graphql(document, { input: { [field]: id } }, { headers: seller.headers })).body;
        return { data, errors };
      };
      const [other, absent] = [await answer(theirs), await answer(missing)];
      expect(other).toEqual(absent);
      expect(other).toEqual({ data: { [name]: { userErrors: [{ field: ['input', field], code: 'NOT_FOUND', message: expect.any(String) }] } }, errors: undefined });
      expect(await server.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpoint.rawId).executeTakeFirst()).toEqual(before);
      expect(await server.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', endpoint.rawId).execute()).toHaveLength(1);
    });
  }

  it('node(id:) answers null for them, to another seller and to an admin alike', async () => {
    const endpoint = await register(server, otherSeller, PUBLIC);
    const deliveryId = toGlobalId('WebhookDelivery', await sendTest(server, otherSeller, endpoint.id));
    const document = 'query ($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }';
    for (const caller of [seller, admin]) {
      const res = await server.graphql(document, { a: endpoint.id, b: deliveryId }, { headers: caller.headers });
      expect([res.body.data, res.body.errors]).toEqual([{ a: null, b: null }, undefined]);
    }
    const own = await server.graphql(document, { a: endpoint.id, b: deliveryId }, { headers: otherSeller.headers });
    expect([own.body.data, own.body.errors]).toEqual([{ a: { id: endpoint.id }, b: { id: deliveryId } }, undefined]);
  });

  it("never appear in a viewer's list, and another user's list is refused", async () => {
    const endpoint = await register(server, otherSeller, PUBLIC);
    const mine = await server.graphql<{ viewer: { webhookEndpoints: { nodes: Array<{ id: string }> } } }>('{ viewer { webhookEndpoints(first: 100) { nodes { id } } } }', {}, { headers: seller.headers });
    expect(mine.body.data?.viewer.webhookEndpoints.nodes.map((node) => node.id)).not.toContain(endpoint.id);
    const theirs = await server.graphql<{ node: { webhookEndpoints: unknown } | null }>(
      'query ($id: ID!) { node(id: $id) { ... on User { webhookEndpoints { totalCount } } } }',
      { id: gid('User', otherSeller.user) },
      { headers: admin.headers },
    );
    expect(theirs.body.data?.node?.webhookEndpoints ?? null).toBeNull();
    expect(theirs.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  });
});
