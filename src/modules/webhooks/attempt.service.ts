import type { Scope } from '../../scope/scope.js';
import { attemptDelivery, type AttemptOutcome } from './attempt.js';
import { nextDelayMs } from './backoff.js';
import { webhookIdOf } from './delivery.service.js';
import { TEST_EVENT_TYPE, webhookBody } from './payload.js';
import { enqueueDelivery } from './queue.js';
import { openSecret, webhookHeaders } from './signing.js';
import { countAttempt, countDisabledEndpoint } from './webhook.metrics.js';
import { claimDeliveries, claimOrphanedDeliveries, recordDeliveredAttempts, type ClaimedDelivery } from './delivery-claims.repository.js';
import { insertAttempt, markEndpointFailing, settleClaimedDelivery, updateDelivery, updateEndpoint, type DeliveryPatch } from './webhook.repository.js';
import { webhookSettings } from './webhook.settings.js';

/**
 * One attempt of each of a job's deliveries, in three steps that hold no
 * database connection during the HTTP calls
 * (docs/architecture/decisions/2026-12-07-webhooks.md); the task
 * (./webhook.tasks.ts) runs them in this order:
 *
 * 1. `claimAttempts`: the lease of each due delivery (`claimed_by`,
 *    `claimed_until` = now + the attempt's timeout + `LEASE_MARGIN_MS`), all
 *    in one statement, so two workers never attempt one delivery at once;
 * 2. `sendAttempts`: signing and the POSTs, concurrently, with no connection
 *    and no transaction;
 * 3. `recordDelivered`: every 2xx in one statement (the delivery, its attempt
 *    log, its endpoint's health), outside any unit of work; and
 *    `recordAttempt` for each other outcome, in a short unit of work of its
 *    own (the outcome, the attempt log, the endpoint's health and the next
 *    job). Both write only while the lease is still the claimant's (a run
 *    that outlived its lease, taken over by another, records nothing: the
 *    other one's attempt counts).
 *
 * A run that dies between 1 and 3 leaves its leases to expire; a re-run of the
 * same job (graphile-worker's retry, or src/jobs/recovery.ts after the
 * process died) claims them back at once, being the same claimant. A
 * delivery recorded already (delivered, or rescheduled for later) is not
 * claimed by that re-run: it is no longer pending, or not due.
 */

/** The lease beyond the attempt's timeout: signing, the claim's commit, the event loop's stalls. */
export const LEASE_MARGIN_MS = 5000;

export type DeliveryRun = 'delivered' | 'retrying' | 'failed' | 'skipped' | 'nothing-to-do' | 'lease-lost';

export interface Claim extends ClaimedDelivery {
  claimant: string;
}

/** What `sendAttempt` did: an outcome, or why nothing could be sent (the delivery fails without an attempt). */
export type SendResult = { kind: 'sent'; outcome: AttemptOutcome; started: Date } | { kind: 'unsendable'; error: string };

/**
 * Takes the leases of the due pending deliveries among `deliveryIds` for
 * `claimant` (the job, `job:<id>`), in one statement; the others are left out
 * (not pending, not due, gone, or another holder's lease still runs: that
 * holder records and schedules). Atomic without a unit of work; no lock is
 * kept after it.
 */
export async function claimAttempts(scope: Scope, deliveryIds: readonly string[], claimant: string): Promise<Claim[]> {
  const leaseMs = webhookSettings(scope).timeoutMs + LEASE_MARGIN_MS;
  const claimed = await claimDeliveries(scope.db, deliveryIds, claimant, leaseMs);
  return claimed.map((row) => ({ ...row, claimant }));
}

/**
 * The sweep's claim (./dispatcher.ts): up to `limit` pending deliveries due
 * for `graceMs` or longer that nobody holds, leased to `claimant` in one
 * statement; two sweeps never take the same one.
 */
export async function claimOrphans(scope: Scope, claimant: string, graceMs: number, limit: number): Promise<Claim[]> {
  const leaseMs = webhookSettings(scope).timeoutMs + LEASE_MARGIN_MS;
  const claimed = await claimOrphanedDeliveries(scope.db, claimant, leaseMs, graceMs, limit);
  return claimed.map((row) => ({ ...row, claimant }));
}

/** The body of a stored event; a test message says what it is. */
function bodyOf(event: ClaimedDelivery['event']): string {
  return webhookBody(event.type, event.occurred_at, event.type === TEST_EVENT_TYPE ? { message: 'A test message from sendTestWebhook.' } : event.payload);
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
function signingSecrets(scope: Scope, endpoint: ClaimedDelivery['endpoint'], now: Date): string[] {
  const keys = scope.deps.auth.keys;
  const current = openSecret(keys, endpoint.id, endpoint.secret_sealed);
  const previous =
    endpoint.previous_secret_sealed && endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > now
      ? openSecret(keys, endpoint.id, endpoint.previous_secret_sealed)
      : undefined;
  return [current, previous].filter((secret): secret is string => secret !== undefined);
}

/** Signs and POSTs one claimed delivery (through the host's circuit breaker); touches no database. */
async function sendAttempt(scope: Scope, claim: Claim, body: string, secretsOf: (endpoint: ClaimedDelivery['endpoint'], now: Date) => string[]): Promise<SendResult> {
  const { delivery, endpoint } = claim;
  if (!endpoint.enabled) return { kind: 'unsendable', error: `endpoint disabled: ${endpoint.disabled_reason ?? 'by its owner'}` };
  const started = new Date();
  const secrets = secretsOf(endpoint, started);
  if (secrets.length === 0) return { kind: 'unsendable', error: 'the signing secret no longer opens (its sealing key was retired): rotate the secret' };
  const settings = webhookSettings(scope);
  const headers = webhookHeaders(secrets, webhookIdOf(delivery.id), Math.floor(started.getTime() / 1000), body);
  const outcome = await attemptDelivery({ url: endpoint.url, headers, body }, { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivateTargets });
  countAttempt(outcome.kind, outcome.durationMs);
  return { kind: 'sent', outcome, started };
}

/** A claim and what sending it did. */
export interface Sent {
  claim: Claim;
  result: SendResult;
}

/**
 * Signs and POSTs every claim at once (touches no database); each event's
 * body is serialised once for all of its endpoints, and each endpoint's
 * secrets are opened once for all of its deliveries (kept for this call
 * only). Never rejects: every problem is an outcome.
 */
export async function sendAttempts(scope: Scope, claims: readonly Claim[]): Promise<Sent[]> {
  const bodies = new Map<string, string>();
  const bodyFor = (event: ClaimedDelivery['event']) => {
    let body = bodies.get(event.id);
    if (body === undefined) bodies.set(event.id, (body = bodyOf(event)));
    return body;
  };
  const opened = new Map<string, string[]>();
  const secretsOf = (endpoint: ClaimedDelivery['endpoint'], now: Date) => {
    const key = `${endpoint.id} ${endpoint.secret_sealed} ${endpoint.previous_secret_sealed ?? ''} ${endpoint.previous_secret_expires_at?.getTime() ?? ''}`;
    let secrets = opened.get(key);
    if (secrets === undefined) opened.set(key, (secrets = signingSecrets(scope, endpoint, now)));
    return secrets;
  };
  return Promise.all(claims.map(async (claim) => ({ claim, result: await sendAttempt(scope, claim, bodyFor(claim.event), secretsOf) })));
}

/** What every log line about an attempt carries. */
const attemptBindings = ({ delivery, event, endpoint }: Claim) => ({ deliveryId: delivery.id, eventId: event.id, endpointId: endpoint.id, attempt: delivery.attempt_count + 1 });

function leaseLost(scope: Scope, claim: Claim): 'lease-lost' {
  scope.log.warn(attemptBindings(claim), 'webhook attempt outlived its lease and another run took the delivery over: its outcome is not recorded');
  return 'lease-lost';
}

/** Whether `sendAttempts` got a 2xx for it (recorded by `recordDelivered`; every other result by `recordAttempt`). */
export const isDelivered = (result: SendResult): result is { kind: 'sent'; outcome: Extract<AttemptOutcome, { kind: 'delivered' }>; started: Date } =>
  result.kind === 'sent' && result.outcome.kind === 'delivered';

/**
 * Records the 2xx results among `sent` in one statement, atomic without a
 * unit of work (and called outside one: it is a single statement): each
 * delivery whose lease its claimant still holds becomes DELIVERED, its
 * attempt joins the log, its endpoint's run of failures ends. Returns what
 * became of each 2xx, by delivery id (`delivered`, or `lease-lost`: nothing
 * written); the other results are not in it.
 */
export async function recordDelivered(scope: Scope, sent: readonly Sent[]): Promise<Map<string, DeliveryRun>> {
  const delivered = sent.flatMap(({ claim, result }) => (isDelivered(result) ? [{ claim, started: result.started, outcome: result.outcome }] : []));
  const runs = new Map<string, DeliveryRun>();
  if (delivered.length === 0) return runs;
  const now = new Date();
  const recorded = new Set(
    await recordDeliveredAttempts(
      scope.db,
      delivered.map(({ claim, started, outcome }) => ({
        deliveryId: claim.delivery.id,
        claimant: claim.claimant,
        number: claim.delivery.attempt_count + 1,
        startedAt: started,
        deliveredAt: now,
        statusCode: outcome.statusCode,
        durationMs: outcome.durationMs,
      })),
    ),
  );
  for (const { claim, outcome } of delivered) {
    if (!recorded.has(claim.delivery.id)) {
      runs.set(claim.delivery.id, leaseLost(scope, claim));
      continue;
    }
    scope.log.info({ ...attemptBindings(claim), outcome: outcome.kind, statusCode: outcome.statusCode, durationMs: outcome.durationMs }, 'webhook delivered');
    runs.set(claim.delivery.id, 'delivered');
  }
  return runs;
}

/**
 * Records a result that is not a 2xx (those are `recordDelivered`'s), in the
 * caller's unit of work: first the delivery row, only if the claimant still
 * holds its lease (else nothing is written: `lease-lost`), then the attempt
 * log, the endpoint's health, and the next attempt's job.
 */
export async function recordAttempt(scope: Scope, claim: Claim, result: SendResult): Promise<DeliveryRun> {
  const { delivery, event, endpoint, claimant } = claim;
  const settle = async (patch: DeliveryPatch) => (await settleClaimedDelivery(scope.db, delivery.id, claimant, patch)) !== undefined;
  const log = scope.log.child({ deliveryId: delivery.id, eventId: event.id, endpointId: endpoint.id, attempt: delivery.attempt_count + 1 });
  const lost = () => leaseLost(scope, claim);
  if (result.kind === 'unsendable') return (await settle({ status: 'FAILED', next_attempt_at: null, last_error: result.error })) ? 'failed' : lost();
  const { outcome, started } = result;
  if (outcome.kind === 'skipped') {
    const next = new Date(Date.now() + outcome.retryAfterMs);
    if (!(await settle({ next_attempt_at: next, last_error: outcome.error }))) return lost();
    await enqueueDelivery(scope, delivery.id, next);
    log.info({ outcome: outcome.kind }, 'webhook attempt skipped: circuit open');
    return 'skipped';
  }
  const number = delivery.attempt_count + 1;
  const common = { attempt_count: number, last_status_code: outcome.statusCode, last_duration_ms: outcome.durationMs };
  const record = (next: Date | null, error: string | null) =>
    insertAttempt(scope.db, { delivery_id: delivery.id, number, started_at: started, status_code: outcome.statusCode, duration_ms: outcome.durationMs, error, next_attempt_at: next });

  if (outcome.kind === 'delivered') throw new Error('recordAttempt: a 2xx is recorded by recordDelivered');
  if (outcome.kind === 'gone') {
    if (!(await settle({ ...common, status: 'FAILED', last_error: 'HTTP 410: endpoint disabled', next_attempt_at: null }))) return lost();
    await record(null, 'HTTP 410: endpoint disabled');
    await disableEndpoint(scope, endpoint.id, `The receiver answered 410 Gone on ${started.toISOString()}.`);
    countDisabledEndpoint('gone');
    log.warn({ outcome: outcome.kind }, 'webhook endpoint answered 410 Gone: disabled');
    return 'failed';
  }
  const settings = webhookSettings(scope);
  const delay = nextDelayMs(number - delivery.schedule_start, settings.retryBaseMs, outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs });
  const scheduled = delay === null ? null : new Date(Date.now() + delay);
  // Settled as scheduled first (the lease check); a failure that disables the endpoint then ends it below.
  if (!(await settle({ ...common, status: scheduled ? 'PENDING' : 'FAILED', last_error: outcome.error, next_attempt_at: scheduled }))) return lost();
  const health = await markEndpointFailing(scope.db, endpoint.id, started);
  const failingSince = health?.failing_since ?? started;
  if (started.getTime() - failingSince.getTime() >= settings.disableAfterHours * 3600 * 1000) {
    await updateDelivery(scope.db, delivery.id, { status: 'FAILED', next_attempt_at: null });
    await record(null, outcome.error);
    await disableEndpoint(scope, endpoint.id, `Every delivery attempt has failed since ${failingSince.toISOString()} (last: ${outcome.error}).`);
    countDisabledEndpoint('failing');
    log.warn({ outcome: outcome.kind, error: outcome.error }, 'webhook endpoint failing for too long: disabled');
    return 'failed';
  }
  await record(scheduled, outcome.error);
  if (scheduled) await enqueueDelivery(scope, delivery.id, scheduled);
  log.info({ outcome: outcome.kind, statusCode: outcome.statusCode, error: outcome.error, nextAttemptAt: scheduled }, 'webhook attempt failed');
  return scheduled ? 'retrying' : 'failed';
}

async function disableEndpoint(scope: Scope, endpointId: string, reason: string): Promise<void> {
  await updateEndpoint(scope.db, endpointId, { enabled: false, disabled_reason: reason, disabled_at: new Date() });
}
