/**
 * OpenTelemetry tracing. Spans are made by hand where the work happens (the
 * Fastify hooks in http-observability.ts, the Apollo plugin in
 * graphql-observability.ts, the Kysely dialect in sql-tracing.ts) rather than
 * by auto-instrumentation, whose module hooks do not see ES modules loaded
 * natively, by tsx or by jest's loader alike.
 *
 * Off unless an exporter is configured (OTEL_TRACES_EXPORTER=otlp|console, or
 * an OTLP endpoint): then the spans of a request share a trace, continued from
 * an incoming W3C `traceparent`. The SDK reads the other standard variables
 * itself (OTEL_EXPORTER_OTLP_*, OTEL_TRACES_SAMPLER*, OTEL_BSP_*). The
 * resource is built here from `service.name` only: OTEL_RESOURCE_ATTRIBUTES
 * is not read.
 */
import { context, createContextKey, propagation, trace, type Context, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

import type { Config } from '../config/config.js';

export const TRACER_NAME = 'marketplace-api';

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface Tracing {
  /** Whether spans are recorded and exported. */
  enabled: boolean;
  /** Exports what is still buffered and unregisters the provider. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Span processors to use instead of the configured exporter (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

async function exporterFor(config: Config['tracing']): Promise<SpanExporter | undefined> {
  switch (config.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp':
      // Loaded only when used: the exporters pull in HTTP and protobuf code.
      if (config.protocol === 'http/json') {
        const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
        return new OTLPTraceExporter();
      } else {
        const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
        return new OTLPTraceExporter();
      }
  }
}

/**
 * Registers the global tracer provider, the AsyncLocalStorage context manager
 * and the W3C trace-context propagator when tracing is configured; otherwise
 * registers nothing, and every span made by hand is a no-op.
 */
export async function startTracing(config: Config['tracing'], options: TracingOptions = {}): Promise<Tracing> {
  let spanProcessors = options.spanProcessors;
  if (!spanProcessors) {
    const exporter = await exporterFor(config);
    if (!exporter) return { enabled: false, shutdown: async () => undefined };
    spanProcessors = [new BatchSpanProcessor(exporter)];
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors,
  });
  provider.register();
  return {
    enabled: true,
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/**
 * Per request, the span that SQL statements should hang under: the HTTP span
 * until GraphQL execution starts, then the execution span. A mutable holder
 * in the request's context, because Apollo runs execution in a context this
 * code cannot enter (it can only observe it through plugin hooks).
 */
export interface SpanHolder {
  span: Span | undefined;
}

const SPAN_HOLDER = createContextKey('marketplace-api.span-holder');

export function withSpanHolder(ctx: Context, holder: SpanHolder): Context {
  return ctx.setValue(SPAN_HOLDER, holder);
}

export function spanHolder(ctx: Context = context.active()): SpanHolder | undefined {
  return ctx.getValue(SPAN_HOLDER) as SpanHolder | undefined;
}

/** The context a child span should start in: the holder's span when set, else the active one. */
export function parentContext(): Context {
  const active = context.active();
  const held = spanHolder(active)?.span;
  return held ? trace.setSpan(active, held) : active;
}
