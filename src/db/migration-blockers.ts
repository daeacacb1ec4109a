/**
 * Who holds the lock a migration waits for. While a migration step runs, a
 * watcher on a connection of its own asks PostgreSQL every few hundred
 * milliseconds which sessions block the migration's session
 * (`pg_blocking_pids`, joined with `pg_stat_activity`) and keeps the latest
 * answer; a step that then fails with `lock_timeout` (SQLSTATE 55P03) names
 * them in its error. The watcher only connects when a step is still running
 * at its first poll, so a migration run that never waits opens nothing.
 */
import type { Kysely } from 'kysely';
import pg from 'pg';

import { poolOf } from './connection.js';

export interface Blocker {
  pid: number;
  /** pg_stat_activity.state: `idle in transaction`, `active`, ... */
  state: string;
  /** The blocker's current (or, when idle, last) statement. */
  query: string;
  /** How long its transaction has been open, in ms (its session's age when it has none). */
  transactionMs: number;
  /** How long it has been in its current state, in ms. */
  stateMs: number;
}

const QUERY_TEXT_MAX = 120;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One blocker on one line: pid, state, age and the start of its statement. */
export function describeBlocker(blocker: Blocker): string {
  const text = blocker.query.replace(/\s+/g, ' ').trim();
  const query = text.length > QUERY_TEXT_MAX ? `${text.slice(0, QUERY_TEXT_MAX - 1)}…` : text;
  return `pid ${blocker.pid} (${blocker.state} for ${seconds(blocker.stateMs)}, transaction open ${seconds(blocker.transactionMs)}): ${query || '(no statement text)'}`;
}

const BLOCKERS_SQL = `
  SELECT a.pid, coalesce(a.state, 'unknown') AS state, coalesce(a.query, '') AS query,
         (extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start)) * 1000)::float8 AS transaction_ms,
         (extract(epoch FROM now() - coalesce(a.state_change, a.backend_start)) * 1000)::float8 AS state_ms
    FROM pg_stat_activity a
   WHERE a.pid = ANY (pg_blocking_pids($1))
   ORDER BY a.xact_start NULLS LAST, a.pid`;

interface BlockerRow {
  pid: number;
  state: string;
  query: string;
  transaction_ms: number;
  state_ms: number;
}

/** A connection for the watcher, with the settings of the pool behind `db` (createDb's); none for another Kysely. */
function watcherClient(db: Kysely<unknown>): pg.Client | undefined {
  const pool = poolOf(db);
  const options = pool ? (pool as unknown as { options?: pg.ClientConfig }).options : undefined;
  if (!options) return undefined;
  const client = new pg.Client({ ...options, application_name: 'marketplace-migrations-watcher' });
  // A lost watcher connection only means no blocker is named.
  client.on('error', () => undefined);
  return client;
}

/**
 * Watches the sessions blocking one backend (`pid`) for a whole migration
 * run; `watch()` polls while one step runs, `close()` ends the connection.
 */
export class BlockerWatcher {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client | undefined> | undefined;
  private closed = false;

  constructor(
    private readonly db: Kysely<unknown>,
    private readonly pid: number,
    private readonly pollMs: number,
  ) {}

  /**
   * Polls until the returned `stop` is called, which resolves with the
   * blockers seen last (empty when none was ever seen).
   */
  watch(): { stop: () => Promise<Blocker[]> } {
    let latest: Blocker[] = [];
    let running = true;
    let inFlight: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const poll = () => {
      inFlight = this.blockers()
        .then((found) => {
          if (found.length > 0) latest = found;
        })
        .catch(() => undefined)
        .finally(() => {
          if (running) timer = setTimeout(poll, this.pollMs);
        });
    };
    timer = setTimeout(poll, this.pollMs);
    return {
      stop: async () => {
        running = false;
        clearTimeout(timer);
        await inFlight;
        return latest;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.connecting);
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async blockers(): Promise<Blocker[]> {
    const client = await this.connect();
    if (!client) return [];
    const { rows } = await client.query<BlockerRow>(BLOCKERS_SQL, [this.pid]);
    return rows.map((row) => ({ pid: row.pid, state: row.state, query: row.query, transactionMs: row.transaction_ms, stateMs: row.state_ms }));
  }

  private async connect(): Promise<pg.Client | undefined> {
    if (this.client || this.closed) return this.client;
    this.connecting ??= (async () => {
      const client = watcherClient(this.db);
      if (!client) return undefined;
      try {
        await client.connect();
      } catch {
        return undefined;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        return undefined;
      }
      this.client = client;
      return client;
    })();
    return this.connecting;
  }
}
