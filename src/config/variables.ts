/**
 * Every environment variable the server reads: its schema, default and
 * meaning, declared in variables/ by concern. docs/reference/configuration.md
 * and .env.example are generated from this list (`npm run config:docs`); a
 * unit test fails when they differ.
 */
import { JOB_VARIABLES } from './variables/jobs.js';
import { OPERATIONS_VARIABLES } from './variables/operations.js';
import { PAYMENTS_VARIABLES } from './variables/payments.js';
import { SECURITY_VARIABLES } from './variables/security.js';
import { SERVER_VARIABLES } from './variables/server.js';
import { WEBHOOK_VARIABLES } from './variables/webhooks.js';
import type { ValueOf } from './variable.js';

export { DEFAULT_CORS_ALLOWED_HEADERS } from './variables/server.js';

export const VARIABLES = { ...SERVER_VARIABLES, ...SECURITY_VARIABLES, ...PAYMENTS_VARIABLES, ...OPERATIONS_VARIABLES, ...JOB_VARIABLES, ...WEBHOOK_VARIABLES } as const;

export type VariableName = keyof typeof VARIABLES;

/** Variables that may hold secrets: each can instead be read from the file named by `<NAME>_FILE` (Docker secrets). */
export const FILE_VARIABLES: readonly VariableName[] = (Object.keys(VARIABLES) as VariableName[]).filter(
  (name) => VARIABLES[name].fromFile === true,
);

/**
 * Variables the server does not read itself but a library it configures
 * does; listed in the reference so that it names every variable.
 */
export const LIBRARY_VARIABLES: readonly { name: string; about: string; example?: string }[] = [
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    example: 'http://localhost:4318',
    about:
      'Read by the OpenTelemetry exporter: base URL of the OTLP collector (its default `http://localhost:4318`). Setting it turns tracing on (`OTEL_TRACES_EXPORTER` defaults to `otlp`).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    about:
      'Read by the OpenTelemetry exporter: the full URL traces are sent to, instead of the one derived from `OTEL_EXPORTER_OTLP_ENDPOINT`. Setting it turns tracing on too.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    about:
      'Read by the OpenTelemetry exporter, like the other `OTEL_EXPORTER_OTLP_*` variables (timeout, compression, their `_TRACES_` forms): headers sent to the collector (`key=value,...`).',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    example: 'parentbased_traceidratio',
    about: 'Read by the OpenTelemetry SDK: the sampler (its default `parentbased_always_on`).',
  },
  { name: 'OTEL_TRACES_SAMPLER_ARG', example: '0.1', about: "Read by the OpenTelemetry SDK: the sampler's argument, such as the ratio of traces kept." },
  { name: 'OTEL_BSP_*', about: "Read by the OpenTelemetry SDK: the batch span processor's queue size, batch size and delays." },
];

/** The value of every variable, once read. */
export type Values = { -readonly [K in VariableName]: ValueOf<(typeof VARIABLES)[K]> };
