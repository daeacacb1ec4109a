/**
 * Timing of GraphQL requests: warm-up, then measured batches, sequential or
 * with a fixed number in flight. Variants that are compared with each other
 * run interleaved (A B, B A, A B, ...) so that drift during the run (JIT,
 * GC, caches, a noisy neighbour) lands on both sides instead of on one.
 */
import { performance } from 'node:perf_hooks';

import type { GraphQLClient, HttpResult } from './http.js';
import type { CompletedLine, RequestLog } from './request-log.js';
import { distinct, median, round, summarize } from './stats.js';

export interface Variant {
  /** Short label shown in the table, e.g. "shield on". */
  label: string;
  client: GraphQLClient;
  body: Buffer;
  /** Fixed headers, or a function called for every request (e.g. a fresh Idempotency-Key each time). */
  headers?: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>);
  /** Full check of a parsed response (done on warm-up responses): an error message, or null when fine. */
  validate: (json: unknown) => string | null;
}

export interface RunOptions {
  /** Measured requests per variant, in total over all rounds. */
  requests: number;
  /** Requests in flight at once (1 = sequential). */
  concurrency: number;
  /** Unmeasured requests per variant before the first round. */
  warmup: number;
  /**
   * Number of interleaved rounds the measured requests are split into; equal
   * to `requests` for sequential runs, so variants alternate request by
   * request (A B B A A B ...).
   */
  rounds: number;
}

export interface VariantResult {
  label: string;
  mode: 'sequential' | 'concurrent';
  concurrency: number;
  requests: number;
  /** Client-side latency: request written to response fully read. */
  latencyMs: { p50: number; p95: number; mean: number; min: number; max: number };
  /** Completed requests per second of wall time (sum of this variant's batches). */
  throughputRps: number;
  /** Fastify's reply.elapsedTime from the log line. */
  serverMs: { p50: number; p95: number };
  /** Statements per request: the value when every request ran the same number, else null. */
  sqlCount: number | null;
  /** Every distinct statement count seen. */
  sqlCounts: number[];
  /** Median of the per-request sum of statement times (log line `sqlMs`): statements that overlap (batched loaders) each count, pool wait included, so it can exceed the request time. */
  sqlMsP50: number;
  /**
   * Client-side p50 of each of BLOCKS consecutive slices of the rounds, in
   * order. Variants compared with each other share the slicing, so the same
   * ratio per block shows how stable it was during the run.
   */
  blockP50s: number[];
}

let sequence = 0;
/** Request ids the application keeps (8 to 128 of [A-Za-z0-9._:-]). */
function nextRequestId(): string {
  sequence += 1;
  return `bench-${process.pid}-${sequence.toString().padStart(7, '0')}`;
}

/** Cheap per-request check; the full check runs on warm-up responses. */
function quickCheck(variant: Variant, result: HttpResult): void {
  if (result.status !== 200 || result.text.includes('"errors":[')) {
    throw new Error(`${variant.label}: unexpected response ${result.status}: ${result.text.slice(0, 400)}`);
  }
}

function fullCheck(variant: Variant, result: HttpResult): void {
  quickCheck(variant, result);
  const parsed: unknown = JSON.parse(result.text);
  const problem = variant.validate(parsed);
  if (problem !== null) throw new Error(`${variant.label}: ${problem}; response: ${result.text.slice(0, 400)}`);
}

interface Batch {
  latencies: number[];
  requestIds: string[];
  wallMs: number;
}

async function runBatch(variant: Variant, count: number, concurrency: number): Promise<Batch> {
  const latencies: number[] = [];
  const requestIds: string[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      const id = nextRequestId();
      const t0 = performance.now();
      const result = await variant.client.post(variant.body, id, headersOf(variant));
      const elapsed = performance.now() - t0;
      quickCheck(variant, result);
      latencies.push(elapsed);
      requestIds.push(id);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, () => worker()));
  return { latencies, requestIds, wallMs: performance.now() - t0 };
}

function headersOf(variant: Variant): Readonly<Record<string, string>> | undefined {
  return typeof variant.headers === 'function' ? variant.headers() : variant.headers;
}

/** Unmeasured requests; the first and last are fully checked. */
export async function warmUp(variant: Variant, count: number, log: RequestLog): Promise<void> {
  if (count <= 0) return;
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = nextRequestId();
    const result = await variant.client.post(variant.body, id, headersOf(variant));
    if (i === 0 || i === count - 1) fullCheck(variant, result);
    else quickCheck(variant, result);
    ids.push(id);
  }
  await log.takeAll(ids);
}

/** Slices of the measured rounds for the in-run spread of a ratio. */
export const BLOCKS = 5;

function blocks(batches: Batch[]): Batch[][] {
  const count = Math.min(BLOCKS, batches.length);
  return Array.from({ length: count }, (_, i) =>
    batches.slice(Math.floor((i * batches.length) / count), Math.floor(((i + 1) * batches.length) / count)),
  );
}

function toResult(variant: Variant, options: RunOptions, batches: Batch[], lines: CompletedLine[]): VariantResult {
  const latencies = batches.flatMap((b) => b.latencies);
  const wallMs = batches.reduce((sum, b) => sum + b.wallMs, 0);
  const latency = summarize(latencies);
  const server = summarize(lines.map((l) => l.durationMs));
  const counts = distinct(lines.map((l) => l.sqlCount));
  return {
    label: variant.label,
    mode: options.concurrency > 1 ? 'concurrent' : 'sequential',
    concurrency: options.concurrency,
    requests: latencies.length,
    latencyMs: {
      p50: round(latency.p50, 3),
      p95: round(latency.p95, 3),
      mean: round(latency.mean, 3),
      min: round(latency.min, 3),
      max: round(latency.max, 3),
    },
    throughputRps: round((latencies.length / wallMs) * 1000, 1),
    serverMs: { p50: round(server.p50, 2), p95: round(server.p95, 2) },
    sqlCount: counts.length === 1 ? (counts[0] as number) : null,
    sqlCounts: counts,
    sqlMsP50: round(median(lines.map((l) => l.sqlMs)), 2),
    blockP50s: blocks(batches).map((slice) => round(median(slice.flatMap((b) => b.latencies)), 3)),
  };
}

/**
 * Warms up every variant, then measures them in `rounds` interleaved rounds
 * and returns one result per variant, in the order given.
 */
export async function compare(variants: readonly Variant[], options: RunOptions, log: RequestLog): Promise<VariantResult[]> {
  for (const variant of variants) await warmUp(variant, options.warmup, log);
  const batches = variants.map((): Batch[] => []);
  const rounds = Math.max(1, Math.min(options.rounds, options.requests));
  for (let round = 0; round < rounds; round += 1) {
    const count = Math.floor(options.requests / rounds) + (round < options.requests % rounds ? 1 : 0);
    const order = variants.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const variant = variants[index] as Variant;
      (batches[index] as Batch[]).push(await runBatch(variant, count, options.concurrency));
    }
  }
  const results: VariantResult[] = [];
  for (const [index, variant] of variants.entries()) {
    const own = batches[index] as Batch[];
    const lines = await log.takeAll(own.flatMap((b) => b.requestIds));
    const failed = lines.find((l) => l.status !== 200 || l.errorCodes.length > 0);
    if (failed) throw new Error(`${variant.label}: request ${failed.requestId} ended ${failed.status} ${failed.errorCodes.join(',')}`);
    results.push(toResult(variant, options, own, lines));
  }
  return results;
}

/** One request (e.g. a log-in or a page of a cursor walk), fully checked: its parsed body and log line. */
export async function once(variant: Variant, log: RequestLog): Promise<{ json: unknown; line: CompletedLine }> {
  const id = nextRequestId();
  const result = await variant.client.post(variant.body, id, headersOf(variant));
  fullCheck(variant, result);
  const json: unknown = JSON.parse(result.text);
  return { json, line: await log.take(id) };
}
