/**
 * Live-update metrics, on the process registry (GET /metrics). Labels are
 * bounded: `transport` is `ws` or `sse`, `field` a Subscription field of the
 * schema, `outcome` one of `sent`, `ended` (a refusal ended the stream) or
 * `dropped` (a subscriber too far behind), `entity` a change kind.
 */
import { Counter, Gauge, Histogram } from 'prom-client';

import { registry } from '../observability/metrics.js';

export const liveMetrics = {
  connections: new Gauge({
    name: 'live_connections',
    help: 'Open live-update connections (WebSockets and SSE streams), by transport.',
    labelNames: ['transport'] as const,
    registers: [registry],
  }),
  subscriptions: new Gauge({
    name: 'live_subscriptions',
    help: 'Active subscriptions on this instance, by Subscription field.',
    labelNames: ['field'] as const,
    registers: [registry],
  }),
  events: new Counter({
    name: 'live_events_total',
    help: 'Subscription events, by field and outcome: sent, skipped (the subscriber may not see the object now), or ended (a refusal ended the stream).',
    labelNames: ['field', 'outcome'] as const,
    registers: [registry],
  }),
  dropped: new Counter({
    name: 'live_changes_dropped_total',
    help: 'Subscriptions dropped because they fell more than SUBSCRIPTIONS_BUFFER_EVENTS changes behind, by change kind.',
    labelNames: ['entity'] as const,
    registers: [registry],
  }),
  slowSockets: new Counter({
    name: 'live_slow_sockets_closed_total',
    help: 'WebSockets closed with 4413 because their unsent events passed SUBSCRIPTIONS_MAX_BUFFERED_BYTES (a client that stopped reading).',
    registers: [registry],
  }),
  lag: new Histogram({
    name: 'live_event_seconds',
    help: 'From hearing a committed change (NOTIFY) to its event being handed to the transport: re-authentication, permission check, reading and executing.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }),
  fanout: new Histogram({
    name: 'live_fanout_seconds',
    help: 'From the commit of a change (stamped by the instance that committed it) to this instance hearing it on LISTEN; with live_event_seconds, the commit-to-send lag.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  listening: new Gauge({
    name: 'live_listener_up',
    help: '1 while the LISTEN connection that hears committed changes from every instance is up.',
    registers: [registry],
  }),
};
