/**
 * A closed-loop HTTP load generator (what autocannon does, in a few lines
 * and without a dependency): `connections` keep-alive connections, each
 * sending its next request as soon as the previous answer has been read,
 * for `durationMs`. Latency is measured per request on the client.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

import { percentile } from './stats.js';

export interface LoadRequest {
  method: 'GET' | 'POST';
  /** Path with query string, e.g. `/graphql?query=...`. */
  path: string;
  headers: Readonly<Record<string, string>>;
  body?: Buffer;
}

export interface LoadOptions {
  baseUrl: string;
  /** The request, or a function making each one (fresh idempotency keys, varied carts). */
  request: LoadRequest | (() => LoadRequest);
  connections: number;
  durationMs: number;
  /** Judges each answer; a false counts as an error (default: status 200). */
  accept?: (status: number, body: string) => boolean;
  /** Hears every request as it ends: when it started (performance.now()), its latency and whether it was accepted. */
  onResult?: (startedAt: number, latencyMs: number, ok: boolean) => void;
}

export interface LoadResult {
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The first refused answer, for the report. */
  firstError: string | undefined;
}

function send(agent: http.Agent, url: URL, request: LoadRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: url.hostname,
        port: Number(url.port),
        path: request.path,
        method: request.method,
        agent,
        headers: { ...request.headers, ...(request.body ? { 'content-length': request.body.length } : {}) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/**
 * One unit of closed-loop work: resolves to `null` when it succeeded, or to a
 * short description of what went wrong (an error; the loop carries on).
 */
export type LoadStep = () => Promise<string | null>;

export interface LoopOptions {
  connections: number;
  durationMs: number;
  /** The next step of connection `connection` (0-based); `undefined` when it has nothing left to do. */
  next: (connection: number) => LoadStep | undefined;
  /** Hears every step as it ends: when it started (performance.now()), its latency and whether it succeeded. */
  onResult?: (startedAt: number, latencyMs: number, ok: boolean) => void;
}

/**
 * The closed loop itself: `connections` callers, each starting its next step
 * as soon as the previous one ended, until `durationMs` have passed or it has
 * nothing left to do. Latency is that of each step, measured here. Used for
 * HTTP (`closedLoop`) and for work that is not HTTP (bench/writes.ts runs
 * hand-written transactions through it).
 */
export async function runClosedLoop(options: LoopOptions): Promise<LoadResult & { exhausted: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let exhausted = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async (connection: number) => {
    while (performance.now() < deadline) {
      const step = options.next(connection);
      if (step === undefined) {
        exhausted += 1;
        return;
      }
      const begin = performance.now();
      let problem: string | null;
      try {
        problem = await step();
      } catch (error) {
        problem = String(error);
      }
      const latency = performance.now() - begin;
      options.onResult?.(begin, latency, problem === null);
      if (problem === null) latencies.push(latency);
      else {
        errors += 1;
        firstError ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, (_, connection) => worker(connection)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: latencies.length > 0 ? percentile(latencies, 50) : 0,
    p99Ms: latencies.length > 0 ? percentile(latencies, 99) : 0,
    firstError,
    exhausted,
  };
}

/** A keep-alive agent for `connections` sockets and a sender of requests through it. */
export function httpSender(baseUrl: string, connections: number): { send(request: LoadRequest): Promise<{ status: number; body: string }>; close(): void } {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return { send: (request) => send(agent, url, request), close: () => agent.destroy() };
}

/** Runs the load and summarises it. */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const sender = httpSender(options.baseUrl, options.connections);
  const accept = options.accept ?? ((status) => status === 200);
  const step: LoadStep = async () => {
    const request = typeof options.request === 'function' ? options.request() : options.request;
    const { status, body } = await sender.send(request);
    return accept(status, body) ? null : `${status} ${body.slice(0, 200)}`;
  };
  try {
    const { exhausted: _exhausted, ...result } = await runClosedLoop({ connections: options.connections, durationMs: options.durationMs, next: () => step, ...(options.onResult ? { onResult: options.onResult } : {}) });
    return result;
  } finally {
    sender.close();
  }
}
