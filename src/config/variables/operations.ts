/** Running it at scale: the response cache, metrics and tracing. */
import { boolean, host, integer, matching, oneOf, secret, text } from '../coerce.js';
import { OTLP_PROTOCOLS, RESPONSE_CACHE_MODES, TRACES_EXPORTERS } from '../types.js';
import { optional, setting } from '../variable.js';

export const OPERATIONS_VARIABLES = {
  // --- Response cache
  RESPONSE_CACHE: setting({
    section: 'Response cache',
    schema: oneOf(RESPONSE_CACHE_MODES),
    // Tests write rows behind the API's back (seeders), which no invalidation hears: they opt in.
    defaultFrom: (d) => (d.nodeEnv === 'test' ? 'off' : d.isSet('REDIS_URL') ? 'redis' : 'memory'),
    defaultText: '`memory`; `redis` when `REDIS_URL` is set; `off` when `NODE_ENV=test`',
    example: 'memory',
    about:
      'The shared cache of anonymous query responses: `memory` (per instance: right for one instance only), `redis` (shared by every instance; needs `REDIS_URL`) or `off`.',
  }),
  RESPONSE_CACHE_TTL_SECONDS: setting({
    section: 'Response cache',
    schema: integer(1, 86_400),
    default: 300,
    about: 'Longest time a stored response is served when no write invalidates it first, in seconds.',
  }),
  RESPONSE_CACHE_HTTP_MAX_AGE_SECONDS: setting({
    section: 'Response cache',
    schema: integer(0, 86_400),
    default: 0,
    about:
      '`max-age` of `Cache-Control: public` on cacheable anonymous GET responses. Browsers and CDNs may serve a response this long after a write changed it; 0 makes them revalidate with the `ETag` every time.',
  }),
  RESPONSE_CACHE_MAX_ENTRIES: setting({
    section: 'Response cache',
    schema: integer(1, 10_000_000),
    default: 10_000,
    about: 'Memory store: most responses kept; the least recently used go first.',
  }),
  RESPONSE_CACHE_MAX_BYTES: setting({
    section: 'Response cache',
    schema: integer(65_536, 17_179_869_184),
    default: 67_108_864,
    about: 'Memory store: most bytes of response data kept; a response over an eighth of it is not stored (the Redis store uses the same per-response limit).',
  }),
  RESPONSE_CACHE_REDIS_PREFIX: setting({
    section: 'Response cache',
    schema: matching(/^[A-Za-z0-9:._-]{1,100}$/, '1 to 100 letters, digits, or . _ : -'),
    default: 'marketplace-api:response-cache',
    about: 'Redis store: prefix of its keys, so deployments (or test runs) sharing one Redis stay apart.',
  }),

  // --- Live updates (subscriptions)
  SUBSCRIPTIONS_MAX_PER_CONNECTION: setting({
    section: 'Live updates',
    schema: integer(1, 10_000),
    default: 25,
    about: 'Most subscriptions open at once on one WebSocket; one more is refused with `SUBSCRIPTION_LIMIT_REACHED`.',
  }),
  SUBSCRIPTIONS_MAX_PER_USER: setting({
    section: 'Live updates',
    schema: integer(1, 100_000),
    default: 100,
    about: 'Most subscriptions open at once for one user on one instance, over every connection and transport.',
  }),
  SUBSCRIPTIONS_MAX_CONNECTIONS_PER_IP: setting({
    section: 'Live updates',
    schema: integer(1, 1_000_000),
    default: 200,
    about: 'Most live connections (WebSockets and event streams) from one IP address on one instance; one more is answered 429.',
  }),
  SUBSCRIPTIONS_MAX_MESSAGE_BYTES: setting({
    section: 'Live updates',
    schema: integer(1_024, 16_777_216),
    default: 131_072,
    about: 'Largest WebSocket message accepted from a client; a larger one closes the socket with 1009.',
  }),
  SUBSCRIPTIONS_KEEPALIVE_MS: setting({
    section: 'Live updates',
    schema: integer(0, 600_000),
    default: 12_000,
    about: 'WebSocket ping interval; a client that does not answer a ping within the same time is disconnected. 0 turns pings off.',
  }),
  SUBSCRIPTIONS_BUFFER_EVENTS: setting({
    section: 'Live updates',
    schema: integer(1, 100_000),
    default: 100,
    about: 'Changes queued per subscription while its earlier events are still being sent; a subscription that falls further behind is dropped with `SUBSCRIPTION_TOO_SLOW` (`live_changes_dropped_total`).',
  }),
  SUBSCRIPTIONS_MAX_BUFFERED_BYTES: setting({
    section: 'Live updates',
    schema: integer(16_384, 268_435_456),
    default: 1_048_576,
    about: 'Most bytes of events queued for one WebSocket that the client has not yet read (beyond what the operating system holds); a socket past it is closed with 4413 (`live_slow_sockets_closed_total`).',
  }),
  // --- Metrics
  METRICS_TOKEN: optional({
    section: 'Metrics',
    schema: secret(16),
    fromFile: true,
    about:
      'Serves Prometheus metrics at `GET /metrics` on the API port to scrapers that send `Authorization: Bearer <token>`. With `METRICS_PORT` too, the separate listener asks for it.',
  }),
  METRICS_PORT: optional({
    section: 'Metrics',
    schema: integer(0, 65535),
    example: '9464',
    about: 'Serves `GET /metrics` on a listener of its own at `METRICS_HOST:METRICS_PORT` instead of the API port. Neither this nor `METRICS_TOKEN` set: no metrics endpoint.',
  }),
  METRICS_HOST: setting({ section: 'Metrics', schema: host(), default: '127.0.0.1', about: 'Interface of the metrics listener.' }),

  // --- Tracing
  OTEL_SDK_DISABLED: setting({ section: 'Tracing', schema: boolean(), default: false, about: '`true` turns tracing off whatever else is set.' }),
  OTEL_TRACES_EXPORTER: setting({
    section: 'Tracing',
    schema: oneOf(TRACES_EXPORTERS),
    // The OpenTelemetry default exporter is otlp; here tracing stays off unless one is named
    // (or an OTLP endpoint is given), so a plain start never tries to reach a collector.
    defaultFrom: (d) => (d.isSet('OTEL_EXPORTER_OTLP_ENDPOINT') || d.isSet('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ? 'otlp' : 'none'),
    defaultText: '`none`; `otlp` when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set',
    ignoredWhen: (d) => d.otelSdkDisabled,
    example: 'otlp',
    about: '`otlp` or `console` turns tracing on; `none` (the default here, unlike the OpenTelemetry SDK\'s) keeps it off. Not read when `OTEL_SDK_DISABLED=true`.',
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: setting({
    section: 'Tracing',
    schema: oneOf(OTLP_PROTOCOLS),
    default: 'http/protobuf',
    about: 'Protocol of the OTLP exporter. gRPC is not bundled.',
  }),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: setting({
    section: 'Tracing',
    schema: oneOf(OTLP_PROTOCOLS),
    defaultFrom: (d) => d.otlpProtocol,
    defaultText: '`OTEL_EXPORTER_OTLP_PROTOCOL`',
    example: 'http/protobuf',
    about: 'Protocol of the OTLP trace exporter, where it should differ from `OTEL_EXPORTER_OTLP_PROTOCOL`.',
  }),
  OTEL_SERVICE_NAME: setting({ section: 'Tracing', schema: text(), default: 'marketplace-api', about: '`service.name` of the spans.' }),
} as const;
