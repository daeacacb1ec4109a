import { Counter, Gauge, Histogram } from 'prom-client';

import { registry } from '../../observability/metrics.js';
import { openBreakerCount } from './attempt.js';

/**
 * Webhook delivery metrics, on the process registry (docs/operations/observability.md).
 * Labels are fixed sets: the outcome of an attempt, the reason an endpoint was disabled.
 */

const attempts = new Counter({
  name: 'webhook_delivery_attempts_total',
  help: 'Webhook delivery attempts, by outcome (delivered, failed, gone, skipped: host breaker open, nothing sent).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const attemptDuration = new Histogram({
  name: 'webhook_delivery_attempt_duration_seconds',
  help: 'Duration of webhook delivery attempts that were sent, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const disabled = new Counter({
  name: 'webhook_endpoints_disabled_total',
  help: 'Webhook endpoints disabled by the deliveries, by reason (gone: a 410 answer; failing: failing for longer than WEBHOOK_DISABLE_AFTER_HOURS).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

new Gauge({
  name: 'webhook_breakers_open',
  help: 'Hosts whose webhook circuit breaker is open in this process (attempts to them are postponed).',
  registers: [registry],
  collect() {
    this.set(openBreakerCount());
  },
});

export function countAttempt(outcome: 'delivered' | 'failed' | 'gone' | 'skipped', durationMs: number): void {
  attempts.inc({ outcome });
  if (outcome !== 'skipped') attemptDuration.observe({ outcome }, durationMs / 1000);
}

export function countDisabledEndpoint(reason: 'gone' | 'failing'): void {
  disabled.inc({ reason });
}
