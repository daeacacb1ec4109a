/** The webhooks module: sellers and admins manage their own endpoints, in person (API keys never). Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { asRecord, expect6, noUserErrors, server, type Caller, type MatrixRow } from './kit.js';

/** A public IP literal: accepted without DNS or the test-only allowance (nothing is ever sent to it here). */
const PUBLIC_URL = 'https://93.184.215.14/hooks';

/** An endpoint of the caller (a seller or admin), or of another seller for callers who may not have one. */
async function endpointOf(caller: Caller, values: { enabled?: boolean } = {}) {
  const role = caller.account?.user.role;
  const ownerId = caller.account && caller.apiKeyId === null && (role === 'SELLER' || role === 'ADMIN') ? caller.account.user.id : (await seeder(server.db).user({ role: 'SELLER' })).id;
  return server.db
    .insertInto('webhook_endpoints')
    .values({ owner_id: ownerId, url: PUBLIC_URL, events: ['order.created'], secret_sealed: 'v1.none.AA.AA', enabled: values.enabled ?? true })
    .returningAll()
    .executeTakeFirstOrThrow();
}

async function deliveryOf(caller: Caller) {
  const endpoint = await endpointOf(caller);
  const event = await server.db.insertInto('webhook_events').values({ type: 'order.created', payload: JSON.stringify({}) as unknown as Record<string, unknown>, occurred_at: new Date() }).returningAll().executeTakeFirstOrThrow();
  return server.db.insertInto('webhook_deliveries').values({ endpoint_id: endpoint.id, event_id: event.id, status: 'FAILED', attempt_count: 11 }).returningAll().executeTakeFirstOrThrow();
}

const endpointRow = (id: string) => server.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
const endpointCount = async (ownerId: string | undefined) =>
  ownerId === undefined ? 0 : (await server.db.selectFrom('webhook_endpoints').select('id').where('owner_id', '=', ownerId).execute()).length;

const MANAGERS = expect6('UNAUTHENTICATED', 'FORBIDDEN', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN');

/** A mutation on one endpoint: the check of what it changed, and that a refusal changed nothing. */
function endpointRow_(document: string, changed: (row: Awaited<ReturnType<typeof endpointRow>>, payload: Record<string, unknown>) => void, enabled = true): MatrixRow {
  return {
    document,
    arrange: async (caller) => {
      const endpoint = await endpointOf(caller, { enabled });
      return {
        variables: { input: { endpointId: gid('WebhookEndpoint', endpoint) } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          changed(await endpointRow(endpoint.id), payload);
        },
        unchanged: async () => expect(await endpointRow(endpoint.id)).toEqual(endpoint),
      };
    },
    expected: MANAGERS,
  };
}

export const webhooksRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Mutation.createWebhookEndpoint': {
    document: 'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id url } secret userErrors { field code } } }',
    arrange: async (caller) => {
      const before = await endpointCount(caller.account?.user.id);
      return {
        variables: { input: { url: PUBLIC_URL, events: ['ORDER_CREATED'] } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(String(payload['secret'])).toMatch(/^whsec_/);
          expect(await endpointCount(caller.account?.user.id)).toBe(before + 1);
        },
        unchanged: async () => expect(await endpointCount(caller.account?.user.id)).toBe(before),
      };
    },
    expected: MANAGERS,
  },
  'Mutation.updateWebhookEndpoint': {
    document: 'mutation ($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id description } userErrors { field code } } }',
    arrange: async (caller) => {
      const endpoint = await endpointOf(caller);
      return {
        variables: { input: { endpointId: gid('WebhookEndpoint', endpoint), description: 'warehouse' } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect((await endpointRow(endpoint.id))?.description).toBe('warehouse');
        },
        unchanged: async () => expect(await endpointRow(endpoint.id)).toEqual(endpoint),
      };
    },
    expected: MANAGERS,
  },
  'Mutation.rotateWebhookSecret': endpointRow_(
    'mutation ($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { endpoint { id } secret previousSecretExpiresAt userErrors { field code } } }',
    (row, payload) => {
      expect(String(payload['secret'])).toMatch(/^whsec_/);
      expect(row?.previous_secret_sealed).toBe('v1.none.AA.AA');
    },
  ),
  'Mutation.disableWebhookEndpoint': endpointRow_(
    'mutation ($input: DisableWebhookEndpointInput!) { disableWebhookEndpoint(input: $input) { endpoint { id enabled } userErrors { field code } } }',
    (row) => expect(row?.enabled).toBe(false),
  ),
  'Mutation.enableWebhookEndpoint': endpointRow_(
    'mutation ($input: EnableWebhookEndpointInput!) { enableWebhookEndpoint(input: $input) { endpoint { id enabled } userErrors { field code } } }',
    (row) => expect(row?.enabled).toBe(true),
    false,
  ),
  'Mutation.deleteWebhookEndpoint': endpointRow_(
    'mutation ($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) { deletedEndpointId userErrors { field code } } }',
    (row) => expect(row).toBeUndefined(),
  ),
  'Mutation.sendTestWebhook': {
    document: 'mutation ($input: SendTestWebhookInput!) { sendTestWebhook(input: $input) { delivery { id eventType status } userErrors { field code } } }',
    arrange: async (caller) => {
      const endpoint = await endpointOf(caller);
      const deliveries = async () => (await server.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', endpoint.id).execute()).length;
      return {
        variables: { input: { endpointId: gid('WebhookEndpoint', endpoint) } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(asRecord(payload['delivery'], 'delivery')).toMatchObject({ eventType: 'webhook.test', status: 'PENDING' });
          expect(await deliveries()).toBe(1);
        },
        unchanged: async () => expect(await deliveries()).toBe(0),
      };
    },
    expected: MANAGERS,
  },
  'Mutation.redeliverWebhook': {
    document: 'mutation ($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { delivery { id status attemptCount } userErrors { field code } } }',
    arrange: async (caller) => {
      const delivery = await deliveryOf(caller);
      const status = async () => (await server.db.selectFrom('webhook_deliveries').select('status').where('id', '=', delivery.id).executeTakeFirstOrThrow()).status;
      return {
        variables: { input: { deliveryId: gid('WebhookDelivery', delivery) } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await status()).toBe('PENDING');
        },
        unchanged: async () => expect(await status()).toBe('FAILED'),
      };
    },
    expected: MANAGERS,
  },
};
