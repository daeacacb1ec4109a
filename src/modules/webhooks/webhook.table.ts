import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A receiver registered by a seller or an admin (migrations/2026_12_07_0013_webhooks.ts). */
export interface WebhookEndpointTable {
  id: Generated<string>;
  owner_id: string;
  url: string;
  description: string | null;
  /** Wire names of the subscribed events (`order.created`). */
  events: string[];
  /** The signing secret, sealed (src/idempotency/sealed-response.ts); never stored in plaintext. */
  secret_sealed: string;
  /** The secret before the last rotation, sealed; it still signs until `previous_secret_expires_at`. */
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  disabled_at: Date | null;
  /** Start of the current run of failed attempts; `null` while healthy. */
  failing_since: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** One domain event as sent: its wire type and body `data`, shared by its deliveries. */
export interface WebhookEventTable {
  id: Generated<string>;
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  created_at: Generated<Date>;
}

export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

/** One event for one endpoint; its id is the `webhook-id`, the same on every attempt. */
export interface WebhookDeliveryTable {
  id: Generated<string>;
  endpoint_id: string;
  event_id: string;
  status: Generated<WebhookDeliveryStatus>;
  /** Attempts made so far, over every schedule (the log's attempt numbers). */
  attempt_count: Generated<number>;
  /** `attempt_count` when the current retry schedule began: a redelivery starts a new one. */
  schedule_start: Generated<number>;
  last_status_code: number | null;
  last_duration_ms: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  /** Who holds the attempt's lease (`job:<id>`, or a one-off token); `null` when no attempt is running (migrations/2026_12_07_0014_webhook_delivery_lease.ts). */
  claimed_by: string | null;
  /** When the lease ends: another run may claim the delivery after it. */
  claimed_until: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** The delivery log: one row per attempt, with the wait chosen after it. */
export interface WebhookAttemptTable {
  delivery_id: string;
  number: number;
  started_at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  next_attempt_at: Date | null;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointTable>;
export type NewWebhookEndpointRow = Insertable<WebhookEndpointTable>;
export type WebhookEndpointUpdate = Updateable<WebhookEndpointTable>;
export type WebhookEventRow = Selectable<WebhookEventTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    webhook_endpoints: WebhookEndpointTable;
    webhook_events: WebhookEventTable;
    webhook_deliveries: WebhookDeliveryTable;
    webhook_attempts: WebhookAttemptTable;
  }
}
