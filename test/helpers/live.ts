/**
 * Live-update clients for tests: the real graphql-ws client over the `ws`
 * package, and Server-Sent Events read from a fetch body. Each subscription
 * collects what arrives; tests wait for a condition with a deadline, never
 * for a fixed time.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

import type { TestServer } from './server.js';

export interface LiveResult {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** What one subscription received. */
export class Collected {
  results: LiveResult[] = [];
  /** The protocol `error` message's errors, or the close event that ended it. */
  failure: unknown;
  completed = false;

  get ended(): boolean {
    return this.completed || this.failure !== undefined;
  }

  /** The codes of every error received, in order. */
  get errorCodes(): string[] {
    const fromResults = this.results.flatMap((result) => result.errors ?? []);
    const fromFailure = Array.isArray(this.failure) ? (this.failure as LiveResult['errors'] & object) : [];
    return [...fromResults, ...fromFailure].map((error) => String(error.extensions?.['code']));
  }
}

/** Waits until `condition()` holds; fails with `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface WsClient {
  client: Client;
  /** Close codes of the socket, in order. */
  closes: number[];
  /** Resolves once the server acknowledged connection_init. */
  connected: Promise<void>;
  subscribe(query: string, variables?: Record<string, unknown>): Collected;
  dispose(): Promise<void>;
}

/** A graphql-ws client on `server`'s /graphql, credentials in `connectionParams` (or none). */
export function wsClient(server: Pick<TestServer, 'baseUrl'>, options: { authorization?: string; headers?: Record<string, string> } = {}): WsClient {
  const closes: number[] = [];
  let acknowledged: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (acknowledged = resolve));
  const client = createClient({
    url: `${server.baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: options.headers ?? {} });
      }
    },
    connectionParams: options.authorization ? { authorization: options.authorization } : {},
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: {
      connected: () => acknowledged(),
      closed: (event) => closes.push((event as { code: number }).code),
    },
  });
  return {
    client,
    closes,
    connected,
    subscribe(query, variables = {}) {
      const collected = new Collected();
      client.subscribe<Record<string, unknown>>(
        { query, variables },
        {
          next: (result) => collected.results.push(result as LiveResult),
          error: (error) => (collected.failure = error),
          complete: () => (collected.completed = true),
        },
      );
      return collected;
    },
    dispose: async () => {
      await client.dispose();
    },
  };
}

export interface SseStream {
  collected: Collected;
  /** The HTTP status of the answer. */
  status: Promise<number>;
  /** The JSON body of a refusal (no stream). */
  refusal: Promise<LiveResult | null>;
  close(): void;
}

/** POST /graphql/stream with `Accept: text/event-stream`; events are parsed as they arrive. */
export function sseSubscribe(server: TestServer, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): SseStream {
  const collected = new Collected();
  const abort = new AbortController();
  const response = fetch(new URL('/graphql/stream', server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const refusal = response.then(async (res) => (res.headers.get('content-type')?.startsWith('application/json') ? ((await res.json()) as LiveResult) : null));
  void response
    .then(async (res) => {
      if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) return;
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (\w+)/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'next' && data) collected.results.push(JSON.parse(data) as LiveResult);
          if (event === 'complete') collected.completed = true;
          end = buffer.indexOf('\n\n');
        }
      }
      collected.completed = true;
    })
    .catch((error: unknown) => {
      if (!abort.signal.aborted) collected.failure = error;
    });
  return { collected, status: response.then((res) => res.status), refusal, close: () => abort.abort() };
}
