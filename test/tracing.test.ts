import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

import { startTracing, type Tracing } from '../src/observability/tracing.js';
import { seeder } from './helpers/seed.js';
import { startTestServer, type LogLine, type TestServer } from './helpers/server.js';

const CATALOG = 'query Catalog { products(first: 3) { totalCount nodes { title seller { displayName } category { name } } } }';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let server: TestServer;

beforeAll(async () => {
  tracing = await startTracing(
    { exporter: 'none', protocol: 'http/protobuf', serviceName: 'marketplace-api-test' },
    { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  );
  server = await startTestServer({ captureLogs: true });
  const seed = seeder(server.db);
  const seller = await seed.user({ role: 'SELLER' });
  const category = await seed.category();
  for (let i = 0; i < 3; i += 1) await seed.product({ seller, category });
});

afterAll(async () => {
  await server.close();
  await tracing.shutdown();
});

beforeEach(() => {
  exporter.reset();
});

/** Spans of the request are exported when they end; the HTTP span ends in onResponse, just after the body is sent. */
async function spansOfTrace(traceId: string): Promise<ReadableSpan[]> {
  for (let i = 0; i < 50; i += 1) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (spans.some((s) => s.kind === SpanKind.SERVER)) return spans;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no server span for trace ${traceId}`);
}

function requestLine(requestId: string | null): LogLine {
  const line = server.logs.find((l) => l['requestId'] === requestId && l.msg === 'request completed');
  if (!line) throw new Error(`no log line for request ${requestId}`);
  return line;
}

function linesOf(requestId: string | null): LogLine[] {
  return server.logs.filter((l) => l['requestId'] === requestId);
}

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('tracing with an in-memory exporter', () => {
  it('records HTTP, GraphQL and SQL spans of one request under one trace id, which its log line carries', async () => {
    const res = await server.graphql(CATALOG, undefined, { operationName: 'Catalog' });
    expect(res.body.errors).toBeUndefined();
    const line = requestLine(res.headers.get('x-request-id'));
    const traceId = line['trace_id'];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const spans = await spansOfTrace(traceId as string);
    expect(linesOf(res.headers.get('x-request-id')).map((l) => l['trace_id'])).toEqual(linesOf(res.headers.get('x-request-id')).map(() => traceId));
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const http = byName('POST /graphql');
    expect(http).toHaveLength(1);
    const [httpSpan] = http as [ReadableSpan];
    expect(httpSpan.kind).toBe(SpanKind.SERVER);
    expect(httpSpan.attributes['http.response.status_code']).toBe(200);
    expect(line['span_id']).toBe(httpSpan.spanContext().spanId);

    const [operation] = byName('query Catalog');
    expect(operation && parentId(operation)).toBe(httpSpan.spanContext().spanId);
    const opId = operation?.spanContext().spanId;
    for (const phase of ['graphql.parse', 'graphql.validate', 'graphql.execute']) {
      expect(byName(phase).map(parentId)).toEqual([opId]);
    }
    const execute = byName('graphql.execute')[0];

    const sql = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    // The same statements the request's log line counted, each a span under GraphQL execution.
    expect(sql.filter((s) => parentId(s) === execute?.spanContext().spanId)).toHaveLength(line['sqlCount'] as number);
    // The page, its sellers and categories are one joined statement (docs/operations/performance.md).
    expect(sql.length).toBe(line['sqlCount']);
    expect(sql.length).toBeGreaterThan(0);
    for (const span of sql) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.name).toBe('SELECT');
      expect(String(span.attributes['db.query.text'])).toMatch(/^select /i);
    }
    // Every span of the request belongs to this trace and nothing else was recorded meanwhile.
    expect(exporter.getFinishedSpans().every((s) => s.spanContext().traceId === traceId)).toBe(true);
  });

  it('continues an incoming W3C traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    const res = await server.graphql(CATALOG, undefined, { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
    expect(res.body.errors).toBeUndefined();
    const spans = await spansOfTrace(traceId);
    const httpSpan = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(httpSpan && parentId(httpSpan)).toBe(parentSpanId);
    expect(spans.some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);
    expect(requestLine(res.headers.get('x-request-id'))['trace_id']).toBe(traceId);
  });

  it('marks a failing statement as an error span', async () => {
    await server.db.schema.alterTable('categories').renameTo('categories_hidden').execute();
    try {
      const res = await server.graphql('{ categories { id } }');
      const traceId = requestLine(res.headers.get('x-request-id'))['trace_id'] as string;
      const spans = await spansOfTrace(traceId);
      // Every line of the request, the logged original of the masked error included, carries the trace id.
      const lines = linesOf(res.headers.get('x-request-id'));
      expect(lines.map((l) => l.msg)).toContain('unexpected error while executing operation');
      expect(lines.every((l) => l['trace_id'] === traceId)).toBe(true);
      const failed = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.status.code === SpanStatusCode.ERROR);
      expect(failed).toHaveLength(1);
      expect(failed[0]?.attributes['error.type']).toBe('42P01');
    } finally {
      await server.db.schema.alterTable('categories_hidden').renameTo('categories').execute();
    }
  });
});
