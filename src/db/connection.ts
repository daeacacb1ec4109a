import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';

import { TracingDialect } from '../observability/sql-tracing.js';
import type { Database } from './database.js';
import { asDatabaseError, PoolShareTimeoutError } from './faults.js';
import { typeParsers } from './timestamps.js';

/** How long a query waits for a pool connection (a new one, or a free one when all are busy) by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

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
}

/**
 * The most pool connections the work running inside it (one HTTP request)
 * may hold at once; further queries wait for one of them to come back. A
 * request that fans out (aliases, big `nodes` lists, parallel loaders) then
 * cannot starve every other request of connections.
 */
export class PoolShare {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * @param limit connections held at once (at least 1)
   * @param timeoutMs how long a query waits for a turn before PoolShareTimeoutError
   */
  constructor(
    readonly limit: number,
    private readonly timeoutMs: number = DEFAULT_CONNECT_TIMEOUT_MS,
  ) {}

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.held < this.limit) {
      this.held += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(turn);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new PoolShareTimeoutError(this.timeoutMs));
      }, this.timeoutMs);
      this.waiting.push(turn);
    });
    // The slot was handed over by the releaser: `held` already counts it.
    return this.releaser();
  }

  /**
   * A slot taken at once, even when all are held, and counted while it is
   * held: for the connection of a transaction opened inside another unit of
   * work of the same work (a detached unit of work). The unit holding the
   * other connection waits for this one, so waiting here for a slot that
   * unit holds would never end with a limit of 1.
   */
  acquireBeyondLimit(): () => void {
    this.held += 1;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Above the limit (a slot taken beyond it is back), the freed slot is not handed on.
      const next = this.held > this.limit ? undefined : this.waiting.shift();
      if (next) next();
      else this.held -= 1;
    };
  }
}

const currentShare = new AsyncLocalStorage<PoolShare>();
const beyondShare = new AsyncLocalStorage<boolean>();

/**
 * Runs `work` (and everything it starts asynchronously) under `share`: its
 * queries on any pool from createDb hold at most `share.limit` connections
 * at once. Used per HTTP request (src/app.ts).
 */
export function runWithPoolShare<T>(share: PoolShare, work: () => T): T {
  return currentShare.run(share, work);
}

/**
 * Runs `checkout` (the BEGIN of a transaction, which takes one connection)
 * with a slot of the current share taken beyond its limit, without waiting
 * (`PoolShare.acquireBeyondLimit`). Only for a transaction opened while the
 * same work holds another connection in an open unit of work and waits for
 * this one (src/db/unit-of-work.ts, `detached`).
 */
export function beyondPoolShare<T>(checkout: () => Promise<T>): Promise<T> {
  return beyondShare.run(true, checkout);
}

/**
 * The pg pool as Kysely sees it: a checkout first takes a slot of the
 * current request's share, if there is one, and gives it back on release.
 */
function sharedPool(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const share = currentShare.getStore();
      const free = share ? (beyondShare.getStore() === true ? share.acquireBeyondLimit() : await share.acquire()) : undefined;
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        free?.();
        throw asDatabaseError(error);
      }
      if (free) {
        // pg-pool sets a fresh `release` on every checkout, so wrapping this one is safe.
        const release = client.release.bind(client);
        client.release = (error?: Error | boolean) => {
          free();
          release(error);
        };
      }
      return client;
    },
    end: () => pool.end(),
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

/**
 * A pg Pool behind Kysely. Sessions run in UTC with a statement timeout, so a
 * runaway query cannot hold a connection forever.
 *
 * Connection errors never crash the process: pg emits a lost connection as an
 * 'error' event on the client (and, while it is idle, on the pool), which
 * would be an uncaught exception without a listener. Every client gets one
 * when it is created (the pool's 'connect' event), so a connection lost while
 * a request holds it (between two statements of a transaction, say) is
 * handled too; the query in flight fails on its own, and the broken client is
 * dropped when released. `onConnectionError` hears each lost connection once.
 */
export function createDb(options: ConnectionOptions, onConnectionError?: (error: Error) => void): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    options: `-c TimeZone=UTC -c statement_timeout=${options.statementTimeoutMs}`,
    application_name: 'marketplace-api',
    // timestamptz read by position rather than by pg's regular expressions (src/db/timestamps.ts).
    types: typeParsers,
  });
  pool.on('connect', (client) => {
    client.on('error', (error) => onConnectionError?.(error));
    // Once per client (the pool reuses them): a lost connection fails the query with a DatabaseUnavailableError.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const result = query(...preparedStatement(args));
      if (!(result instanceof Promise)) return result;
      return result.catch((error: unknown) => {
        throw asDatabaseError(error);
      });
    }) as typeof client.query;
  });
  // The client's own listener above has reported it already.
  pool.on('error', () => undefined);
  // Each statement is a span when tracing is on (src/observability/sql-tracing.ts).
  const db = new Kysely<Database>({ dialect: new TracingDialect(new PostgresDialect({ pool: sharedPool(pool) })) });
  pools.set(db, pool);
  return db;
}

/** Same server, other database: used to reach `postgres` for CREATE DATABASE. */
export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
