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

/** Runs the load and summarises it. */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const accept = options.accept ?? ((status) => status === 200);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const request = typeof options.request === 'function' ? options.request() : options.request;
      const begin = performance.now();
      try {
        const { status, body } = await send(agent, url, request);
        const latency = performance.now() - begin;
        const ok = accept(status, body);
        options.onResult?.(begin, latency, ok);
        if (ok) latencies.push(latency);
        else {
          errors += 1;
          firstError ??= `${status} ${body.slice(0, 200)}`;
        }
      } catch (error) {
        options.onResult?.(begin, performance.now() - begin, false);
        errors += 1;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: latencies.length > 0 ? percentile(latencies, 50) : 0,
    p99Ms: latencies.length > 0 ? percentile(latencies, 99) : 0,
    firstError,
  };
}
