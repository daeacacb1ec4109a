import { unitOfWork } from '../../db/unit-of-work.js';
import type { Scope } from '../../scope/scope.js';
import { attemptDelivery, type AttemptOutcome } from './attempt.js';
import { nextDelayMs } from './backoff.js';
import { webhookIdOf } from './delivery.service.js';
import { TEST_EVENT_TYPE, webhookBody } from './payload.js';
import { enqueueDelivery } from './queue.js';
import { openSecret, webhookHeaders } from './signing.js';
import { countAttempt, countDisabledEndpoint } from './webhook.metrics.js';
import {
  claimDeliveries,
  insertAttempt,
  markEndpointFailing,
  recordDeliveredAttempts,
  settleClaimedDelivery,
  updateDelivery,
  updateEndpoint,
  type ClaimedDelivery,
  type DeliveryPatch,
} from './webhook.repository.js';
import { webhookSettings } from './webhook.settings.js';

/**
 * One attempt of each of a few deliveries (a job's), in three steps that hold
 * no database connection during the HTTP calls
 * (docs/architecture/decisions/2026-12-07-webhooks.md):
 *
 * 1. `claimAttempts`: each due delivery's lease (`claimed_by`, `claimed_until`
 *    = now + the attempt's timeout + `LEASE_MARGIN_MS`), all in one
 *    statement, so two workers never attempt one delivery at once;
 * 2. `sendAttempt`, for each: signing and the POST, with no connection and no
 *    transaction (the deliveries of one job are sent concurrently);
 * 3. `recordAttempts`: every 2xx in one statement (the delivery, its attempt
 *    log, its endpoint's health), and each other outcome in a short unit of
 *    work of its own (`recordAttempt`: the outcome, the attempt log, the
 *    endpoint's health and the next job), only while the lease is still the
 *    claimant's (a run that outlived its lease, taken over by another,
 *    records nothing: the other one's attempt counts).
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

/** Signs and POSTs the claimed delivery (through the host's circuit breaker); touches no database. */
export async function sendAttempt(scope: Scope, claim: Claim): Promise<SendResult> {
  const { delivery, event, endpoint } = claim;
  if (!endpoint.enabled) return { kind: 'unsendable', error: `endpoint disabled: ${endpoint.disabled_reason ?? 'by its owner'}` };
  const started = new Date();
  const secrets = signingSecrets(scope, endpoint, started);
  if (secrets.length === 0) return { kind: 'unsendable', error: 'the signing secret no longer opens (its sealing key was retired): rotate the secret' };
  const settings = webhookSettings(scope);
  const body = bodyOf(event);
  const headers = webhookHeaders(secrets, webhookIdOf(delivery.id), Math.floor(started.getTime() / 1000), body);
  const outcome = process.env['TMP_NOHTTP'] === '1' ? { kind: 'delivered' as const, statusCode: 200, durationMs: 1 } : await attemptDelivery({ url: endpoint.url, headers, body }, { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivateTargets });
  countAttempt(outcome.kind, outcome.durationMs);
  return { kind: 'sent', outcome, started };
}

/** What every log line about an attempt carries. */
const attemptBindings = ({ delivery, event, endpoint }: Claim) => ({ deliveryId: delivery.id, eventId: event.id, endpointId: endpoint.id, attempt: delivery.attempt_count + 1 });
const attemptLog = (scope: Scope, claim: Claim) => scope.log.child(attemptBindings(claim));

function leaseLost(log: Scope['log']): 'lease-lost' {
  log.warn('webhook attempt outlived its lease and another run took the delivery over: its outcome is not recorded');
  return 'lease-lost';
}

/**
 * Records what `sendAttempt` did for each claim, outside any unit of work:
 * the 2xx outcomes all in one statement (`recordDeliveredAttempts`), each
 * other outcome in a unit of work of its own (`recordAttempt`). A delivery
 * whose lease the claimant no longer holds is not recorded (`lease-lost`).
 * The outcomes come back in the order of `sent`.
 */
export async function recordAttempts(scope: Scope, sent: ReadonlyArray<{ claim: Claim; result: SendResult }>): Promise<DeliveryRun[]> {
  if (scope.unit) throw new Error('recordAttempts runs outside a unit of work: each outcome that is not a 2xx gets its own');
  const delivered = sent.flatMap(({ claim, result }) =>
    result.kind === 'sent' && result.outcome.kind === 'delivered' ? [{ claim, started: result.started, outcome: result.outcome }] : [],
  );
  const recorded = new Set(
    await recordDeliveredAttempts(
      scope.db,
      delivered.map(({ claim, started, outcome }) => ({
        deliveryId: claim.delivery.id,
        claimant: claim.claimant,
        number: claim.delivery.attempt_count + 1,
        startedAt: started,
        deliveredAt: new Date(),
        statusCode: outcome.statusCode,
        durationMs: outcome.durationMs,
      })),
    ),
  );
  const runs: DeliveryRun[] = [];
  for (const { claim, result } of sent) {
    if (result.kind === 'sent' && result.outcome.kind === 'delivered') {
      if (!recorded.has(claim.delivery.id)) {
        runs.push(leaseLost(attemptLog(scope, claim)));
        continue;
      }
      // One line, without a child logger of its own (the common case, kept cheap).
      scope.log.info({ ...attemptBindings(claim), outcome: 'delivered', statusCode: result.outcome.statusCode, durationMs: result.outcome.durationMs }, 'webhook delivered');
      runs.push('delivered');
    } else {
      runs.push(await unitOfWork(scope, (unit) => recordAttempt(unit, claim, result)));
    }
  }
  return runs;
}

/**
 * Records what `sendAttempt` did when it was not a 2xx (those are recorded by
 * `recordAttempts`), in the caller's unit of work: first the delivery row,
 * only if the claimant still holds its lease (else nothing is written:
 * `lease-lost`), then the attempt log, the endpoint's health, and the next
 * attempt's job.
 */
async function recordAttempt(scope: Scope, claim: Claim, result: SendResult): Promise<DeliveryRun> {
  const { delivery, endpoint, claimant } = claim;
  const settle = async (patch: DeliveryPatch) => (await settleClaimedDelivery(scope.db, delivery.id, claimant, patch)) !== undefined;
  const log = attemptLog(scope, claim);
  const lost = () => leaseLost(log);
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

  if (outcome.kind === 'delivered') throw new Error('recordAttempt: a 2xx is recorded by recordAttempts');
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
