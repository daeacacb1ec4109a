/**
 * The webhooks bench's receiver: an HTTP server on 127.0.0.1 that verifies
 * every message with the `standardwebhooks` package (the endpoint's secret
 * chosen by the path, `/hook/<endpoint id>`), answers 200, and records when
 * each order's `order.created` arrived (`performance.now()`, the clock of the
 * bench process, which also times the checkouts).
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { Webhook } from 'standardwebhooks';

/** What the bench says to the receiver's process (./webhook-receiver-child.ts), and what it answers. */
export type ToChild = { trust: [endpointId: string, secret: string] } | { close: true };
export type FromChild =
  | { ready: { url: string } }
  | { trusted: string }
  | { progress: { count: number; rejected: number; duplicates: number; arrivals: Array<[key: string, wallMs: number]> } };

export interface BenchReceiver {
  /** The URL of an endpoint's path. */
  urlFor(endpointId: string): string;
  /** Adds an endpoint's secret (`whsec_...`). */
  trust(endpointId: string, secret: string): void;
  /** Messages verified so far. */
  readonly count: number;
  /** Messages whose signature did not verify (must stay 0). */
  readonly rejected: number;
  /** Arrival time of each order's message, by the order's global id and endpoint: `<order id> <endpoint id>`. */
  readonly arrivals: Map<string, number>;
  /** Distinct webhook-ids received more than once (a redelivery; expected 0 in the bench). */
  readonly duplicates: number;
  /** The receiver's own process, when it runs in one (its CPU is read from /proc). */
  readonly pid?: number;
  /** Resolves once `count` messages have been verified, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** `onArrival`: told of each order's message as it is verified (the child process reports arrivals from it). */
export async function startBenchReceiver(onArrival?: (key: string, at: number) => void): Promise<BenchReceiver> {
  const secrets = new Map<string, Webhook>();
  const arrivals = new Map<string, number>();
  const seen = new Set<string>();
  let count = 0;
  let rejected = 0;
  let duplicates = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const endpointId = (req.url ?? '').replace(/^\/hook\//, '');
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[name] = String(req.headers[name] ?? '');
      try {
        const verifier = secrets.get(endpointId);
        if (!verifier) throw new Error(`unknown endpoint ${endpointId}`);
        const message = verifier.verify(body, headers) as { type?: string; data?: { order?: { id?: string } } };
        const id = headers['webhook-id'] ?? '';
        if (seen.has(id)) duplicates += 1;
        seen.add(id);
        const orderId = message.data?.order?.id;
        if (message.type === 'order.created' && orderId) {
          const key = `${orderId} ${endpointId}`;
          arrivals.set(key, at);
          onArrival?.(key, at);
        }
        count += 1;
        res.writeHead(200).end('ok');
      } catch {
        rejected += 1;
        res.writeHead(400).end('bad signature');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    urlFor: (endpointId) => `http://127.0.0.1:${port}/hook/${endpointId}`,
    trust: (endpointId, secret) => void secrets.set(endpointId, new Webhook(secret)),
    get count() {
      return count;
    },
    get rejected() {
      return rejected;
    },
    get duplicates() {
      return duplicates;
    },
    arrivals,
    async waitFor(target, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (count < target) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${count} of ${target} webhooks in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The same receiver in a child process (./webhook-receiver-child.ts), the
 * bench's default: its arrivals come back over IPC, within
 * 20 ms, on this process's `performance.now()` clock.
 */
export async function startBenchReceiverProcess(): Promise<BenchReceiver> {
  const child = fork(fileURLToPath(new URL('./webhook-receiver-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const arrivals = new Map<string, number>();
  const state = { count: 0, rejected: 0, duplicates: 0 };
  const base = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the receiver process exited (${code})`)));
    child.on('message', (message: FromChild) => {
      if ('ready' in message) resolve(message.ready.url);
      else if ('progress' in message) {
        Object.assign(state, { count: message.progress.count, rejected: message.progress.rejected, duplicates: message.progress.duplicates });
        for (const [key, wallMs] of message.progress.arrivals) arrivals.set(key, wallMs - performance.timeOrigin);
      }
    });
  });
  const tell = (message: ToChild) => child.send(message);
  return {
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    urlFor: (endpointId) => `${base}${endpointId}`,
    trust: (endpointId, secret) => tell({ trust: [endpointId, secret] }),
    get count() {
      return state.count;
    },
    get rejected() {
      return state.rejected;
    },
    get duplicates() {
      return state.duplicates;
    },
    arrivals,
    async waitFor(target, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (state.count < target) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${state.count} of ${target} webhooks in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async close() {
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      tell({ close: true });
      await exited;
    },
  };
}
