import { createHash } from 'node:crypto';
import {
  Kysely,
  PostgresDialect,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
} from 'kysely';
import pg from 'pg';

import type { DatabasePooler } from '../config/types.js';
import { countDatabaseError, countReadRetry, observeDatabaseAvailability } from '../observability/metrics.js';
import { TracingDialect } from '../observability/sql-tracing.js';
import { DatabaseAvailability, type OutageLog, type OutageMessages } from './availability.js';
import type { Database } from './database.js';
import { asDatabaseError, databaseBusyReason, describeDatabaseError, isDatabaseUnavailable } from './faults.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, registerShareableDialect, ShareableDialect } from './pool-share.js';
import { isBegin, isRetryableFirstStatement } from './read-retry.js';
import { typeParsers } from './timestamps.js';

const pools = new WeakMap<object, pg.Pool>();

/** The pg pool behind a Kysely instance made by createDb (read by the pool gauges of /metrics). */
export function poolOf(db: object): pg.Pool | undefined {
  return pools.get(db);
}

export interface ConnectionOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
  /** Wait for a pool connection before failing with "timeout exceeded when trying to connect". @default 5000 */
  connectTimeoutMs?: number;
  /** Where an outage is told: a warning when it starts, an info line when it ends. Without it, only /metrics counts. */
  log?: OutageLog;
  /**
   * `transaction`: `url` is a transaction pooler (PgBouncer in transaction
   * mode), which may run each transaction, and each statement outside one,
   * on another server session. Nothing is left in a session then: no startup
   * `options` (PgBouncer refuses the connection), no named prepared
   * statements (a name prepared on one server session is unknown on the
   * next, or already exists there), and the statement timeout is set with
   * `SET LOCAL` in each transaction, sent with its BEGIN in one round trip.
   * @default 'none'
   */
  pooler?: DatabasePooler;
}

/**
 * A pg pool with what the checkouts below need to know about its connections:
 * which were opened when (a retry wants one opened after the failure), which
 * were lost (closed on release, never handed out again), and whether the
 * database answers (logged once per outage, src/db/availability.ts).
 */
class TrackedPool {
  /** Connections opened so far; each connection's number is its `birth`. */
  private opened = 0;
  private readonly births = new WeakMap<pg.PoolClient, number>();
  private readonly generations = new WeakMap<pg.PoolClient, number>();
  private readonly lost = new WeakSet<pg.PoolClient>();

  constructor(
    readonly pool: pg.Pool,
    readonly availability: DatabaseAvailability,
  ) {}

  /** The number of the latest connection opened: those opened afterwards are newer. */
  get latest(): number {
    return this.opened;
  }

  /** Called once per new connection (the pool's 'connect' event). */
  adopt(client: pg.PoolClient): void {
    this.opened += 1;
    this.births.set(client, this.opened);
    this.generations.set(client, this.availability.generation);
  }

  /** A connection died (its 'error' event, or a statement failing with a lost connection); counted once. */
  connectionLost(client: pg.PoolClient, error: unknown): void {
    if (this.lost.has(client)) return;
    this.lost.add(client);
    countDatabaseError('connection_lost');
    this.availability.failed(error, this.generations.get(client));
  }

  /** A pool connection; failures are counted and thrown as DatabaseUnavailableError where they mean that. */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      // pg-pool's wait for a free connection of a full pool: the database may be fine, the pool is busy.
      const poolBusy = describeDatabaseError(error).message.includes('timeout exceeded when trying to connect');
      countDatabaseError(poolBusy ? 'pool_timeout' : 'connect_failed');
      if (!poolBusy && isDatabaseUnavailable(error)) this.availability.failed(error);
      throw asDatabaseError(error);
    }
  }

  /**
   * A connection opened after connection number `latest`. Older ones it
   * meets are closed instead of used: after a restart, failover or
   * pg_terminate_backend they are most likely dead too, and pg-pool hands
   * out idle connections first (the most recently used one first), so
   * without this a retry could meet another dead one. Ends: each older
   * connection is met at most once, and a pool without idle ones opens a new one.
   */
  async connectNewerThan(latest: number): Promise<pg.PoolClient> {
    for (;;) {
      const client = await this.connect();
      if ((this.births.get(client) ?? 0) > latest) return client;
      client.release(true);
    }
  }

  /** Gives a connection back; a lost one is closed rather than kept idle. */
  release(client: pg.PoolClient): void {
    client.release(this.lost.has(client) ? true : undefined);
  }
}

/**
 * One pool checkout as Kysely sees it (Kysely runs each statement outside a
 * transaction on a checkout of its own, and a whole transaction on one).
 * Its first statement, when it failed because the connection died under it
 * and running it again cannot change anything (a read, or BEGIN: see
 * src/db/read-retry.ts), runs once more on a new connection, which then
 * serves the rest of the checkout. Nothing else is retried: a write may have
 * committed before the connection died.
 */
class Checkout implements PostgresPoolClient {
  private statements = 0;

  /** `beginSuffix`: what a transaction pooler's BEGIN carries along (`; SET LOCAL ...`); see ConnectionOptions.pooler. */
  constructor(
    private client: pg.PoolClient | undefined,
    private readonly tracked: TrackedPool,
    private readonly beginSuffix: string | undefined,
  ) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(statement: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // createDb configures no cursor class, so Kysely never streams through this pool.
    if (typeof statement !== 'string') throw new Error('streaming queries are not configured for this pool');
    this.statements += 1;
    const values = [...parameters];
    if (this.statements === 1 && this.beginSuffix !== undefined && values.length === 0 && isBegin(statement)) return this.begin<R>(statement);
    if (this.statements === 1 && isRetryableFirstStatement(statement)) return this.runWithRetry<R>(statement, values);
    return this.run<R>(statement, values);
  }

  release(): void {
    const client = this.client;
    this.client = undefined;
    if (client) this.tracked.release(client);
  }

  /**
   * BEGIN and the transaction's settings as one simple-protocol query (no
   * parameters), so a transaction pooler costs no extra round trip; the
   * answer is BEGIN's. Retried like a plain BEGIN.
   */
  private async begin<R>(statement: string): Promise<PostgresQueryResult<R>> {
    const results = (await this.runWithRetry<R>(`${statement}${this.beginSuffix ?? ''}`, [])) as PostgresQueryResult<R> | PostgresQueryResult<R>[];
    const first = Array.isArray(results) ? results[0] : results;
    if (first === undefined) throw new Error('BEGIN returned no result');
    return first;
  }

  private async run<R>(statement: string, values: unknown[]): Promise<PostgresQueryResult<R>> {
    if (!this.client) throw new Error('the pool connection was already released');
    return (await this.client.query(statement, values)) as unknown as PostgresQueryResult<R>;
  }

  private async runWithRetry<R>(statement: string, values: unknown[]): Promise<PostgresQueryResult<R>> {
    try {
      return await this.run<R>(statement, values);
    } catch (error) {
      if (!isDatabaseUnavailable(error) || !this.client) throw error;
      const latest = this.tracked.latest;
      const dead = this.client;
      this.client = undefined;
      this.tracked.release(dead);
      try {
        this.client = await this.tracked.connectNewerThan(latest);
        const result = await this.run<R>(statement, values);
        countReadRetry('ok');
        return result;
      } catch (retryError) {
        countReadRetry('failed');
        throw retryError;
      }
    }
  }
}

/**
 * The pg pool as Kysely sees it (a request's share of it is taken by the
 * request's handle: src/db/pool-share.ts).
 */
function sharedPool(tracked: TrackedPool, beginSuffix: string | undefined, stopObserving: () => void): PostgresPool {
  let ended: Promise<void> | undefined;
  return {
    async connect(): Promise<PostgresPoolClient> {
      return new Checkout(await tracked.connect(), tracked, beginSuffix);
    },
    // Once: a pool that serves reads too (src/db/replicas.ts) is ended by two dialects.
    end: () => {
      ended ??= (async () => {
        stopObserving();
        await tracked.pool.end();
      })();
      return ended;
    },
  };
}

/** Distinct statement texts that get a name; beyond this, statements run unnamed (PostgreSQL keeps each per connection). */
export const MAX_NAMED_STATEMENTS = 500;
const statementNames = new Map<string, string>();
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * Kysely sends `query(text, values)`; a data statement becomes
 * `{ name, text, values }`, its name derived from its text. pg then parses a
 * named statement once per connection and afterwards only binds and executes
 * it, and PostgreSQL keeps its plan instead of parsing and planning the same
 * text on every request. Statements with the same shape have the same text
 * (lists are bound as one array parameter, `= any($1)`), so the set of names
 * stays small; past MAX_NAMED_STATEMENTS distinct texts, new ones run unnamed.
 */
function preparedStatement(args: unknown[]): unknown[] {
  const [text, values, ...rest] = args;
  if (typeof text !== 'string' || !Array.isArray(values) || rest.length > 0 || !PREPARABLE.test(text)) return args;
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_NAMED_STATEMENTS) return args;
    name = `mp_${createHash('sha1').update(text).digest('base64url')}`;
    statementNames.set(text, name);
  }
  return [{ name, text, values }];
}

/** A pg pool ready for Kysely, and what the server keeps about it. */
export interface OpenedPool {
  readonly pool: pg.Pool;
  /** The pool as Kysely's PostgresDialect takes it: checkouts take the request's pool share; `end` runs once. */
  readonly postgres: PostgresPool;
  /** Whether its database answers (src/db/availability.ts). */
  readonly availability: DatabaseAvailability;
}

export interface PoolRole {
  /**
   * Feeds `db_available` in /metrics (the primary's pool): a read replica's
   * outage is not the database's, its reads go to the primary meanwhile.
   * @default true
   */
  observed?: boolean;
  /** The outage's two log lines. @default the primary's ("answering 503 until it is back") */
  messages?: OutageMessages;
}

/**
 * A pg Pool for Kysely. Sessions run in UTC with a statement timeout, so a
 * runaway query cannot hold a connection forever (behind a transaction
 * pooler: see ConnectionOptions.pooler).
 *
 * Connection errors never crash the process: pg emits a lost connection as an
 * 'error' event on the client (and, while it is idle, on the pool), which
 * would be an uncaught exception without a listener. Every client gets one
 * when it is created (the pool's 'connect' event), so a connection lost while
 * a request holds it (between two statements of a transaction, say) is
 * handled too; the query in flight fails on its own, and the broken client is
 * closed when released. `onConnectionError` hears each 'error' event.
 *
 * The outage a lost connection belongs to is logged through `options.log`,
 * once when it starts and once when it ends (src/db/availability.ts); a read
 * whose connection died under it runs again on a new one (`Checkout`).
 */
export function openPool(options: ConnectionOptions, role: PoolRole = {}, onConnectionError?: (error: Error) => void): OpenedPool {
  const pooled = options.pooler === 'transaction';
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // A transaction pooler refuses startup options; its sessions get the timeout per transaction (beginSuffix).
    ...(pooled ? {} : { options: `-c TimeZone=UTC -c statement_timeout=${options.statementTimeoutMs}` }),
    application_name: 'marketplace-api',
    // timestamptz read by position rather than by pg's regular expressions (src/db/timestamps.ts).
    types: typeParsers,
  });
  const availability = new DatabaseAvailability(options.log, Date.now, role.messages);
  const tracked = new TrackedPool(pool, availability);
  const name = pooled ? (args: unknown[]) => args : preparedStatement;
  pool.on('connect', (client) => {
    tracked.adopt(client);
    client.on('error', (error) => {
      tracked.connectionLost(client, error);
      onConnectionError?.(error);
    });
    // Once per client (the pool reuses them): a lost connection fails the query with a DatabaseUnavailableError.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const ticket = availability.ticket();
      const result = query(...name(args));
      if (!(result instanceof Promise)) return result;
      return result.then(
        (value: unknown) => {
          availability.succeeded(ticket);
          return value;
        },
        (error: unknown) => {
          if (isDatabaseUnavailable(error)) {
            tracked.connectionLost(client, error);
          } else {
            const busy = databaseBusyReason(error);
            if (busy !== undefined) countDatabaseError(busy);
          }
          throw asDatabaseError(error);
        },
      );
    }) as typeof client.query;
  });
  // The client's own listener above has reported it already.
  pool.on('error', () => undefined);
  const stopObserving = role.observed === false ? () => undefined : observeDatabaseAvailability(availability);
  const beginSuffix = pooled ? `; SET LOCAL statement_timeout = ${Math.trunc(options.statementTimeoutMs)}` : undefined;
  return { pool, postgres: sharedPool(tracked, beginSuffix, stopObserving), availability };
}

/** Remembers `pool` as the pg pool behind `db` (for `poolOf`). */
export function registerPool(db: object, pool: pg.Pool): void {
  pools.set(db, pool);
}

/** A Kysely instance over one pool (see `openPool`). */
export function createDb(options: ConnectionOptions, onConnectionError?: (error: Error) => void): Kysely<Database> {
  const { pool, postgres } = openPool(options, {}, onConnectionError);
  // Each statement is a span when tracing is on (src/observability/sql-tracing.ts).
  const dialect = new ShareableDialect(new TracingDialect(new PostgresDialect({ pool: postgres })));
  const db = new Kysely<Database>({ dialect });
  pools.set(db, pool);
  registerShareableDialect(db, dialect);
  return db;
}

/** Same server, other database: used to reach `postgres` for CREATE DATABASE. */
export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
