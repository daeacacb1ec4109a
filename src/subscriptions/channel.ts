/**
 * Changes between instances over PostgreSQL LISTEN/NOTIFY. After a unit of
 * work commits, the change feed hands its changes here (`publish`): they go
 * out as NOTIFY payloads of identifiers only (`{entity, id}`, never row
 * data; each payload under NOTIFY_MAX_BYTES). Every instance, this one
 * included, hears them on one dedicated connection that does nothing but
 * LISTEN, and fans them out to its own subscribers (src/subscriptions/hub.ts).
 *
 * The listening connection is a plain client of the pool's target (not a
 * pool connection: it must stay open, and a transaction-mode pooler would
 * not deliver notifications). When it drops (database restart, network) it
 * reconnects by itself with exponential backoff; changes committed while it
 * was away are lost, not replayed (subscribers re-read the current row on
 * the next change).
 */
import type { Kysely } from 'kysely';
import pg from 'pg';

import type { Database } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/faults.js';
import type { ScopeLogger } from '../scope/scope.js';
import type { Change, ChangeFeed } from '../scope/change-feed.js';
import { notify } from './channel.repository.js';
import { liveMetrics } from './metrics.js';

/** PostgreSQL refuses payloads of 8000 bytes or more; changes are batched below this. */
export const NOTIFY_MAX_BYTES = 7_900;
export const CHANNEL = 'marketplace_changes';

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/** One NOTIFY payload: when the publishing instance heard the commit (epoch ms), and ids only. */
export interface NotifyPayload {
  at: number;
  changes: Change[];
}

/** Batches of changes, each serialised under NOTIFY_MAX_BYTES, stamped with the time of the commit. */
export function notifyPayloads(changes: readonly Change[], at: number = Date.now()): string[] {
  const head = `{"at":${Math.trunc(at)},"changes":[`;
  const tail = ']}';
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = head.length + tail.length;
  for (const change of changes) {
    const text = JSON.stringify(change);
    if (batch.length > 0 && size + text.length + 1 > NOTIFY_MAX_BYTES) {
      payloads.push(`${head}${batch.join(',')}${tail}`);
      batch = [];
      size = head.length + tail.length;
    }
    batch.push(text);
    size += text.length + 1;
  }
  if (batch.length > 0) payloads.push(`${head}${batch.join(',')}${tail}`);
  return payloads;
}

function isChangeList(value: unknown): value is Change[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null && typeof (item as { entity?: unknown }).entity === 'string' && typeof (item as { id?: unknown }).id === 'string');
}

/** A payload of this format; `undefined` for anything else heard on the channel. */
export function parseNotifyPayload(text: string): NotifyPayload | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { at, changes } = parsed as { at?: unknown; changes?: unknown };
  return typeof at === 'number' && isChangeList(changes) ? { at, changes } : undefined;
}

export interface ChannelOptions {
  /** The pool: publishes go through it (after commit). */
  db: Kysely<Database>;
  /** Connection settings of the listening client (the pool's own). */
  connection: pg.ClientConfig;
  log: ScopeLogger;
  /** Receives the changes heard, in commit order. */
  onChanges: (changes: Change[]) => void;
  /** Called with `true` when the listener is (back) up, `false` when it is down. */
  onListening?: (up: boolean) => void;
}

export class ChangeChannel implements ChangeFeed {
  private client: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private listeningNow = false;
  /** Changes published while a NOTIFY statement was in flight, the time the first of them was, and their publishers. */
  private queued: Change[] = [];
  private queuedAt = 0;
  private waiting: (() => void)[] = [];
  private sending = false;

  constructor(private readonly options: ChannelOptions) {}

  get listening(): boolean {
    return this.listeningNow;
  }

  /**
   * Announces committed changes to every instance; resolves once they are
   * sent. One statement is in flight at a time: changes published meanwhile
   * (other requests' commits) wait for it and go out together in the next
   * one, in the order they were published, so under concurrent writes a
   * commit costs a share of a statement rather than one. A failure is
   * logged: the writes have committed already.
   */
  publish(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    if (this.queued.length === 0) this.queuedAt = Date.now();
    this.queued.push(...changes);
    const sent = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (!this.sending) void this.sendQueued();
    return sent;
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    try {
      while (this.queued.length > 0) {
        const changes = this.queued;
        const waiting = this.waiting;
        const at = this.queuedAt;
        this.queued = [];
        this.waiting = [];
        try {
          await notify(this.options.db, CHANNEL, notifyPayloads(changes, at));
        } catch (error) {
          // During a database outage the outage itself is the one warning (src/db/availability.ts).
          const level = isDatabaseUnavailable(error) ? 'info' : 'warn';
          this.options.log[level]({ err: error, changes: changes.length }, 'live updates: could not announce committed changes');
        }
        for (const resolve of waiting) resolve();
      }
    } finally {
      this.sending = false;
    }
  }

  /** Opens the listening connection; resolves once LISTEN runs or the first attempt failed (it keeps retrying). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Closes the listening connection for good (last, at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.setListening(false);
    await client?.end().catch(() => undefined);
  }

  private setListening(up: boolean): void {
    if (this.listeningNow === up) return;
    this.listeningNow = up;
    this.options.onListening?.(up);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...this.options.connection, application_name: 'marketplace-api live updates' });
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = undefined;
      this.setListening(false);
      client.end().catch(() => undefined);
      if (this.closed) return;
      // Once per loss, at info: a database outage is reported once, as a warning, by src/db/availability.ts,
      // and `live_listener_up` tells a lasting loss; the retries that follow are debug lines.
      const lost = this.backoffMs === BACKOFF_MIN_MS;
      this.options.log[lost ? 'info' : 'debug']({ err: error, retryInMs: this.backoffMs }, 'live updates: listening connection lost; reconnecting');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      const payload = parseNotifyPayload(message.payload);
      if (!payload) return;
      // Commit to hearing it here, across instances (their clocks are assumed synchronised; a negative span is dropped).
      const spanMs = Date.now() - payload.at;
      if (spanMs >= 0) liveMetrics.fanout.observe(spanMs / 1000);
      this.options.onChanges(payload.changes);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      fail(error);
      return;
    }
    if (this.closed || failed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = BACKOFF_MIN_MS;
    this.setListening(true);
    this.options.log.info('live updates: listening for committed changes');
  }
}
