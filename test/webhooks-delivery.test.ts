/**
 * Webhook deliveries, over HTTP on real PostgreSQL with a real receiver on
 * 127.0.0.1 (so this server has the test-only WEBHOOK_ALLOW_PRIVATE_TARGETS):
 * Standard Webhooks signatures that the `standardwebhooks` package verifies,
 * the retry schedule in the delivery log, timeouts, 410 and failing-for-days
 * disabling, redirects never followed, Retry-After, rotation overlap, and the
 * secret stored sealed and never logged. Attempts run as the worker's task
 * runs them (claim, HTTP call, one short unit of work to record it, when
 * due; the real worker: test/webhooks-checkout.test.ts; the lease:
 * test/webhooks-lease.test.ts); the retry base is 20 ms.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { toGlobalId } from '../src/graphql/global-id.js';
import { registry } from '../src/observability/metrics.js';
import { createAccount, type Account } from './helpers/auth.js';
import { createTestAuthRuntime } from './helpers/scope.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startReceiver, verified, type Answer, type Receiver } from './helpers/webhook-receiver.js';
import { ROTATE, deliveryRow, drive, register, sendTest, type Data } from './helpers/webhooks.js';

let server: TestServer;
let auth: AuthRuntime;
let seller: Account;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startTestServer({
    captureLogs: true,
    env: { LOGIN_LIMIT_PER_IP: '100000', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_MAX_ENDPOINTS: '100' },
  });
  auth = await createTestAuthRuntime();
  seller = await createAccount(server, { role: 'SELLER' });
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(async () => {
  await auth.close();
  await server.close();
});

async function receiver(answer?: (n: number) => Answer): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

const ENDPOINT_LOG = `query { viewer { webhookEndpoints(first: 50) { nodes { id enabled disabledReason failingSince
  deliveries(first: 5) { nodes { id webhookId eventType status attemptCount lastStatusCode lastDurationMs lastError nextAttemptAt
    attempts { number startedAt statusCode durationMs error nextAttemptAt } } } } } } }`;

async function endpointView(endpointId: string): Promise<Data> {
  const res = await server.graphql<{ viewer: { webhookEndpoints: { nodes: Data[] } } }>(ENDPOINT_LOG, {}, { headers: seller.headers });
  expect(res.body.errors).toBeUndefined();
  const found = res.body.data?.viewer.webhookEndpoints.nodes.find((node) => node['id'] === endpointId);
  if (!found) throw new Error(`endpoint ${endpointId} is not in the viewer's list`);
  return found;
}

describe('a delivery', () => {
  it('arrives signed so that standardwebhooks verifies it, with the Standard Webhooks body', async () => {
    const target = await receiver();
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    expect((await drive(server, auth, deliveryId)).status).toBe('DELIVERED');
    const [message] = await target.waitFor(1);
    if (!message) throw new Error('no message');
    expect(verified(endpoint.secret, message)).toEqual({ type: 'webhook.test', timestamp: expect.any(String), data: { message: expect.any(String) } });
    expect(message.headers['content-type']).toBe('application/json');
    expect(message.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(Buffer.byteLength(message.body)).toBeLessThan(20 * 1024);
  });

  it('is retried with growing waits after 500 three times and delivered on the 4th attempt, with one webhook-id', async () => {
    const target = await receiver((n) => ({ status: n <= 3 ? 500 : 200 }));
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    const row = await drive(server, auth, deliveryId);
    expect(row).toMatchObject({ status: 'DELIVERED', attempt_count: 4, last_status_code: 200 });
    const messages = await target.waitFor(4);
    expect(new Set(messages.map((message) => message.headers['webhook-id'])).size).toBe(1);
    for (const message of messages) expect(() => verified(endpoint.secret, message)).not.toThrow();

    const view = await endpointView(endpoint.id);
    const delivery = (view['deliveries'] as { nodes: Data[] }).nodes[0] as Data;
    const attempts = delivery['attempts'] as Array<{ number: number; startedAt: string; statusCode: number; error: string | null; nextAttemptAt: string | null }>;
    expect(attempts.map((attempt) => [attempt.number, attempt.statusCode, attempt.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 500, 'HTTP 500'],
      [4, 200, null],
    ]);
    // The scheduled waits: base 20 ms times 4^(n-1), with jitter in [0.8, 1.2).
    const waits = attempts.slice(0, 3).map((attempt) => Date.parse(attempt.nextAttemptAt ?? '') - Date.parse(attempt.startedAt));
    [20, 80, 320].forEach((nominal, index) => {
      expect(waits[index]).toBeGreaterThanOrEqual(nominal * 0.8 - 1);
      expect(waits[index]).toBeLessThan(nominal * 1.2 + 50);
    });
    expect(view['failingSince']).toBeNull();
  });

  it('times out on a receiver that never answers and schedules the next attempt', async () => {
    const target = await receiver(() => 'hang');
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    const row = await drive(server, auth, deliveryId, 1);
    expect(row).toMatchObject({ status: 'PENDING', attempt_count: 1, last_status_code: null, last_error: 'timed out after 300 ms' });
    expect(row.next_attempt_at).not.toBeNull();
  });

  it('disables the endpoint on 410 Gone, with a reason its owner sees', async () => {
    const target = await receiver(() => ({ status: 410 }));
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    expect(await drive(server, auth, deliveryId)).toMatchObject({ status: 'FAILED', attempt_count: 1, last_status_code: 410 });
    const view = await endpointView(endpoint.id);
    expect(view['enabled']).toBe(false);
    expect(view['disabledReason']).toMatch(/410 Gone/);
    expect(await registry.getSingleMetricAsString('webhook_endpoints_disabled_total')).toMatch(/webhook_endpoints_disabled_total\{reason="gone"\} [1-9]/);
    expect(await registry.getSingleMetricAsString('webhook_delivery_attempts_total')).toMatch(/\{outcome="gone"\} [1-9]/);
  });

  it('counts a redirect as a failure and never follows it, even to a private address', async () => {
    const landing = await receiver();
    const target = await receiver(() => ({ status: 302, headers: { location: landing.url } }));
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    const row = await drive(server, auth, deliveryId, 1);
    expect(row).toMatchObject({ status: 'PENDING', last_status_code: 302, last_error: 'HTTP 302: redirects are not followed' });
    expect(landing.received).toEqual([]);
  });

  it('waits at least the Retry-After of a 429', async () => {
    const target = await receiver(() => ({ status: 429, headers: { 'retry-after': '120' } }));
    const endpoint = await register(server, seller, target.url);
    const deliveryId = await sendTest(server, seller, endpoint.id);
    const before = Date.now();
    const row = await drive(server, auth, deliveryId, 1);
    expect(row.last_status_code).toBe(429);
    expect(row.next_attempt_at?.getTime()).toBeGreaterThanOrEqual(before + 120_000);
  });

  it('disables an endpoint whose attempts have all failed for longer than the limit, and says why', async () => {
    const target = await receiver(() => ({ status: 503 }));
    const endpoint = await register(server, seller, target.url);
    await server.db.updateTable('webhook_endpoints').set({ failing_since: new Date(Date.now() - 73 * 3600 * 1000) }).where('id', '=', endpoint.rawId).execute();
    const deliveryId = await sendTest(server, seller, endpoint.id);
    expect(await drive(server, auth, deliveryId)).toMatchObject({ status: 'FAILED', attempt_count: 1 });
    const view = await endpointView(endpoint.id);
    expect(view['enabled']).toBe(false);
    expect(view['disabledReason']).toMatch(/^Every delivery attempt has failed since .* \(last: HTTP 503\)\.$/);
  });
});

describe('the signing secret', () => {
  it('is stored sealed, never in plaintext, and never reaches a log line', async () => {
    const target = await receiver(() => ({ status: 500 }));
    const endpoint = await register(server, seller, target.url);
    const row = await server.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpoint.rawId).executeTakeFirstOrThrow();
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(endpoint.secret.slice('whsec_'.length));
    await drive(server, auth, await sendTest(server, seller, endpoint.id), 2);
    // A careless log line naming the secret is censored by the logger's redaction too.
    server.app.log.info({ endpoint: { id: endpoint.id, secret: endpoint.secret } }, 'redaction probe');
    expect(server.logs.some((line) => line.msg === 'redaction probe')).toBe(true);
    expect(server.logs.some((line) => line.msg === 'webhook attempt failed')).toBe(true);
    expect(JSON.stringify(server.logs)).not.toContain(endpoint.secret.slice('whsec_'.length));
  });

  it('keeps signing with the old secret beside the new one after a rotation, so either verifies', async () => {
    const target = await receiver();
    const endpoint = await register(server, seller, target.url);
    const res = await server.graphql<{ rotateWebhookSecret: { secret: string; previousSecretExpiresAt: string } }>(ROTATE, { input: { endpointId: endpoint.id } }, { headers: seller.headers });
    const rotated = res.body.data?.rotateWebhookSecret;
    expect(rotated?.secret).toMatch(/^whsec_/);
    expect(rotated?.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated?.previousSecretExpiresAt ?? '') - Date.now()).toBeGreaterThan(23 * 3600 * 1000);

    await drive(server, auth, await sendTest(server, seller, endpoint.id));
    const [message] = await target.waitFor(1);
    if (!message) throw new Error('no message');
    expect(String(message.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => verified(endpoint.secret, message)).not.toThrow();
    expect(() => verified(rotated?.secret ?? '', message)).not.toThrow();

    // After the overlap only the new secret signs.
    await server.db.updateTable('webhook_endpoints').set({ previous_secret_expires_at: new Date(Date.now() - 1000) }).where('id', '=', endpoint.rawId).execute();
    await drive(server, auth, await sendTest(server, seller, endpoint.id));
    const [, later] = await target.waitFor(2);
    if (!later) throw new Error('no second message');
    expect(() => verified(rotated?.secret ?? '', later)).not.toThrow();
    expect(() => verified(endpoint.secret, later)).toThrow();
  });
});

it('leaves the delivery untouched when it is no longer pending (a task that runs twice)', async () => {
  const target = await receiver();
  const endpoint = await register(server, seller, target.url);
  const deliveryId = await sendTest(server, seller, endpoint.id);
  await drive(server, auth, deliveryId);
  const done = await deliveryRow(server, deliveryId);
  await drive(server, auth, deliveryId);
  expect(await deliveryRow(server, deliveryId)).toEqual(done);
  expect(target.received).toHaveLength(1);
});

it('redelivers a failed delivery from a new schedule with the same webhook-id, numbering its attempts on', async () => {
  const target = await receiver((n) => ({ status: n === 1 ? 500 : 200 }));
  const endpoint = await register(server, seller, target.url);
  const deliveryId = await sendTest(server, seller, endpoint.id);
  await drive(server, auth, deliveryId, 1);
  await server.db.updateTable('webhook_deliveries').set({ status: 'FAILED', next_attempt_at: null }).where('id', '=', deliveryId).execute();
  const res = await server.graphql<{ redeliverWebhook: { delivery: { status: string; attemptCount: number } | null; userErrors: unknown[] } }>(
    'mutation ($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { delivery { status attemptCount } userErrors { code } } }',
    { input: { deliveryId: toGlobalId('WebhookDelivery', deliveryId) } },
    { headers: seller.headers },
  );
  expect(res.body.data?.redeliverWebhook).toEqual({ delivery: { status: 'PENDING', attemptCount: 1 }, userErrors: [] });
  expect(await drive(server, auth, deliveryId)).toMatchObject({ status: 'DELIVERED', attempt_count: 2, schedule_start: 1 });
  const messages = await target.waitFor(2);
  expect(messages[0]?.headers['webhook-id']).toBe(messages[1]?.headers['webhook-id']);
  const log = await server.db.selectFrom('webhook_attempts').select(['number', 'status_code']).where('delivery_id', '=', deliveryId).orderBy('number').execute();
  expect(log).toEqual([{ number: 1, status_code: 500 }, { number: 2, status_code: 200 }]);
});

it("deletes an endpoint with its deliveries and their attempts, and leaves another endpoint's alone", async () => {
  const target = await receiver();
  const [gone, kept] = [await register(server, seller, target.url), await register(server, seller, target.url)];
  const [goneDelivery, keptDelivery] = [await sendTest(server, seller, gone.id), await sendTest(server, seller, kept.id)];
  await drive(server, auth, goneDelivery);
  await drive(server, auth, keptDelivery);
  const attemptsOf = (deliveryId: string) => server.db.selectFrom('webhook_attempts').select('number').where('delivery_id', '=', deliveryId).execute();
  expect(await attemptsOf(goneDelivery)).toEqual([{ number: 1 }]);
  const res = await server.graphql<{ deleteWebhookEndpoint: { deletedEndpointId: string | null; userErrors: unknown[] } }>(
    'mutation ($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) { deletedEndpointId userErrors { code } } }',
    { input: { endpointId: gone.id } },
    { headers: seller.headers },
  );
  expect(res.body.data?.deleteWebhookEndpoint).toEqual({ deletedEndpointId: gone.id, userErrors: [] });
  expect(await server.db.selectFrom('webhook_deliveries').select('id').where('id', '=', goneDelivery).execute()).toEqual([]);
  expect(await attemptsOf(goneDelivery)).toEqual([]);
  expect(await attemptsOf(keptDelivery)).toEqual([{ number: 1 }]);
  expect(await deliveryRow(server, keptDelivery)).toMatchObject({ status: 'DELIVERED' });
});
