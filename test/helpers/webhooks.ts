/** Shared by the webhook test files: GraphQL documents, endpoint registration, and driving a delivery as the worker does. */
import { expect } from '@jest/globals';

import type { AuthRuntime } from '../../src/auth/runtime.js';
import { fromGlobalId } from '../../src/graphql/global-id.js';
import { createLoaders } from '../../src/modules/registry.js';
import { runDelivery } from '../../src/modules/webhooks/webhook.tasks.js';
import type { WebhookDeliveryRow } from '../../src/modules/webhooks/webhook.table.js';
import type { ScopeLogger } from '../../src/scope/scope.js';
import type { Account } from './auth.js';
import { jobScope } from './scope.js';
import type { TestServer } from './server.js';

export type Data = Record<string, unknown>;

export const CREATE =
  'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id url events enabled } secret userErrors { field code message } } }';
export const SEND_TEST = 'mutation ($input: SendTestWebhookInput!) { sendTestWebhook(input: $input) { delivery { id webhookId status } userErrors { field code } } }';
export const ROTATE =
  'mutation ($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { endpoint { id previousSecretExpiresAt } secret previousSecretExpiresAt userErrors { field code } } }';

export interface Registered {
  id: string;
  rawId: string;
  secret: string;
}

/** Registers an endpoint through the API and returns its ids and secret (the test fails on userErrors). */
export async function register(server: TestServer, owner: Account, url: string, events: string[] = ['ORDER_CREATED']): Promise<Registered> {
  const res = await server.graphql<{ createWebhookEndpoint: { endpoint: { id: string } | null; secret: string | null; userErrors: unknown[] } }>(
    CREATE,
    { input: { url, events } },
    { headers: owner.headers },
  );
  const payload = res.body.data?.createWebhookEndpoint;
  expect(payload?.userErrors).toEqual([]);
  const id = payload?.endpoint?.id ?? '';
  return { id, rawId: fromGlobalId(id).id, secret: payload?.secret ?? '' };
}

/** A `webhook.test` delivery to the endpoint, pending; its raw id. */
export async function sendTest(server: TestServer, owner: Account, endpointId: string): Promise<string> {
  const res = await server.graphql<{ sendTestWebhook: { delivery: { id: string } | null } }>(SEND_TEST, { input: { endpointId } }, { headers: owner.headers });
  return fromGlobalId(res.body.data?.sendTestWebhook.delivery?.id ?? '').id;
}

export async function deliveryRow(server: TestServer, id: string): Promise<WebhookDeliveryRow> {
  return server.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/**
 * Runs the delivery's attempts as the `webhooks.deliver` task does (the test
 * servers run no worker; test/webhooks-checkout.test.ts runs the real one): claim,
 * HTTP call, then one short unit of work to record it, each when it is due (the wait is the scheduled
 * `next_attempt_at`, read from the row), until it is no longer pending or
 * `maxRuns` attempts have run.
 */
export async function drive(server: TestServer, auth: AuthRuntime, deliveryId: string, maxRuns = 20): Promise<WebhookDeliveryRow> {
  // The server's logger: what the attempts log is in `server.logs` when it captures them.
  const scope = jobScope({ db: server.db, auth, createLoaders, transitions: server.app.scopeDeps.transitions, webhooks: server.config.webhooks }, null, server.app.log as ScopeLogger);
  for (let run = 0; run < maxRuns; run += 1) {
    const row = await deliveryRow(server, deliveryId);
    if (row.status !== 'PENDING') return row;
    const due = row.next_attempt_at ? row.next_attempt_at.getTime() - Date.now() : 0;
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    await runDelivery(scope, deliveryId);
  }
  return deliveryRow(server, deliveryId);
}
