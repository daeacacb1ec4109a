/**
 * The live connections of this instance (WebSockets and SSE streams): the
 * cap per IP address, the abort signal that ends each connection's streams,
 * and the shutdown that ends them all.
 */
import { decodeJwt } from 'jose';

import { looksLikeJwt } from '../auth/access-tokens.js';
import type { RequestMeta } from '../scope/scope.js';
import { liveMetrics } from './metrics.js';
import type { LiveConnection } from './operations.js';

export type Transport = 'ws' | 'sse';

export interface OpenConnection extends LiveConnection {
  transport: Transport;
  /** The user the connection authenticated as (null: anonymous); a new credential must be the same user's. */
  userId: string | null;
  controller: AbortController;
  /** Closes the transport itself (the WebSocket with this code; an SSE stream simply ends). */
  close(code: number, reason: string): void;
}

/** WebSocket close codes this server uses besides the protocol's own (docs/guides/subscriptions.md). */
export const CLOSE_CODES = {
  /** The server is shutting down. */
  goingAway: 1001,
  /** The credential of the connection expired (or no longer authenticates at connection_init). */
  unauthorized: 4401,
  /** A credential sent to renew the connection's belongs to another user. */
  forbidden: 4403,
  /** The client stopped reading: its unsent events passed SUBSCRIPTIONS_MAX_BUFFERED_BYTES. */
  slowConsumer: 4413,
} as const;

export class LiveConnections {
  private readonly perIp = new Map<string, number>();
  private readonly open = new Set<OpenConnection>();

  constructor(private readonly maxPerIp: number) {}

  get size(): number {
    return this.open.size;
  }

  /** Subscriptions open on every connection now. */
  get activeSubscriptions(): number {
    let total = 0;
    for (const connection of this.open) total += connection.active;
    return total;
  }

  /** Whether `ip` may open one more connection. */
  mayOpen(ip: string): boolean {
    return (this.perIp.get(ip) ?? 0) < this.maxPerIp;
  }

  /** Registers a connection; the returned function forgets it (call it once the transport closed). */
  add(transport: Transport, meta: RequestMeta, authorization: string | undefined, close: OpenConnection['close']): { connection: OpenConnection; release: () => void } {
    const controller = new AbortController();
    const connection: OpenConnection = { transport, meta, authorization, userId: null, signal: controller.signal, active: 0, controller, close };
    this.open.add(connection);
    this.perIp.set(meta.ip, (this.perIp.get(meta.ip) ?? 0) + 1);
    liveMetrics.connections.inc({ transport });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      controller.abort();
      this.open.delete(connection);
      const left = (this.perIp.get(meta.ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(meta.ip, left);
      else this.perIp.delete(meta.ip);
      liveMetrics.connections.dec({ transport });
    };
    return { connection, release };
  }

  /**
   * Shutdown: every stream ends after the event it is sending (its changes
   * stop), then, once they have all ended or at `deadline`, every transport
   * closes (WebSockets with 1001).
   */
  async shutdown(deadline: number): Promise<void> {
    for (const connection of this.open) connection.controller.abort();
    while (this.activeSubscriptions > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const connection of [...this.open]) connection.close(CLOSE_CODES.goingAway, 'The server is shutting down; reconnect.');
  }
}

/** When the access token in `authorization` expires (ms since the epoch); undefined for API keys and tokens without `exp`. */
export function credentialExpiry(authorization: string | undefined): number | undefined {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
  if (!token || !looksLikeJwt(token)) return undefined;
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
