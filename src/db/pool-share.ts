/**
 * Per-request shares of the database pools: how many connections the work of
 * one HTTP request may hold at once. The request's own Kysely handle
 * (`withPoolShare`) takes a slot before each checkout and gives it back with
 * the connection.
 *
 * The share travels with the handle, not with AsyncLocalStorage: on Node 20
 * and 22, one AsyncLocalStorage in use makes every promise of the process pay
 * for async hooks, which cost this API about a third of its CPU per request
 * (docs/operations/performance.md, "Node 20 and 22").
 */
import {
  Kysely,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type KyselyPlugin,
  type QueryCompiler,
  type TransactionSettings,
} from 'kysely';

import type { Database } from './database.js';
import { PoolShareTimeoutError } from './faults.js';

/** How long a query waits for a pool connection (a new one, or a free one when all are busy) by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

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

/** How a handle takes a slot before a checkout: waiting for one, or at once beyond the limit. */
type TakeSlot = () => Promise<() => void> | (() => void);

/**
 * One driver under every handle of a database (the application's, and each
 * request's), initialised once and destroyed with the application's handle;
 * a request's handle adds its share's slot around each checkout.
 */
class ShareDriver implements Driver {
  private readonly slots = new WeakMap<DatabaseConnection, () => void>();

  constructor(
    private readonly base: SharedBase,
    private readonly take: TakeSlot | undefined,
  ) {}

  init(): Promise<void> {
    return this.base.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const free = this.take ? await this.take() : undefined;
    try {
      const connection = await this.base.driver.acquireConnection();
      if (free) this.slots.set(connection, free);
      return connection;
    } catch (error) {
      free?.();
      throw error;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const free = this.slots.get(connection);
    this.slots.delete(connection);
    try {
      await this.base.driver.releaseConnection(connection);
    } finally {
      free?.();
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.base.driver.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.base.driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.base.driver.rollbackTransaction(connection);
  }

  savepoint(connection: DatabaseConnection, name: string, compile: Compile): Promise<void> {
    return this.base.savepointCall('savepoint')(connection, name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Compile): Promise<void> {
    return this.base.savepointCall('rollbackToSavepoint')(connection, name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: Compile): Promise<void> {
    return this.base.savepointCall('releaseSavepoint')(connection, name, compile);
  }

  /** Only the application's handle (without a share) ends the pool. */
  destroy(): Promise<void> {
    return this.take ? Promise.resolve() : this.base.driver.destroy();
  }
}

type SavepointMethod = 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint';
type Compile = QueryCompiler['compileQuery'];

class SharedBase {
  private initialised: Promise<void> | undefined;

  constructor(readonly driver: Driver) {}

  init(): Promise<void> {
    this.initialised ??= this.driver.init();
    return this.initialised;
  }

  savepointCall(method: SavepointMethod): (connection: DatabaseConnection, name: string, compile: Compile) => Promise<void> {
    const driver = this.driver;
    if (!driver[method]) throw new Error(`the database driver does not support ${method}`);
    return (connection, name, compile) => driver[method]!(connection, name, compile);
  }
}

/**
 * The dialect of a database whose requests may take shares of its pool: the
 * application's handle is built on it (`new Kysely({ dialect })`), and each
 * request's handle (`withPoolShare`) reuses its driver, adapter and compiler.
 */
export class ShareableDialect implements Dialect {
  private readonly base: SharedBase;
  private readonly adapter: DialectAdapter;
  private readonly compiler: QueryCompiler;

  constructor(private readonly inner: Dialect) {
    this.base = new SharedBase(inner.createDriver());
    this.adapter = inner.createAdapter();
    this.compiler = inner.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.adapter;
  }

  createDriver(): Driver {
    return new ShareDriver(this.base, undefined);
  }

  createQueryCompiler(): QueryCompiler {
    return this.compiler;
  }

  createIntrospector(db: Parameters<Dialect['createIntrospector']>[0]): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }

  /** A dialect whose driver takes a slot with `take` before each checkout. */
  sharing(take: TakeSlot): Dialect {
    return {
      createAdapter: () => this.adapter,
      createDriver: () => new ShareDriver(this.base, take),
      createQueryCompiler: () => this.compiler,
      createIntrospector: (db) => this.inner.createIntrospector(db),
    };
  }
}

const dialects = new WeakMap<object, ShareableDialect>();
const beyond = new WeakMap<object, () => Kysely<Database>>();

/** Remembers that `db` was built on `dialect`, so requests may take shares of it (`withPoolShare`). */
export function registerShareableDialect(db: object, dialect: ShareableDialect): void {
  dialects.set(db, dialect);
}

/**
 * A handle on the same pool as `db` whose checkouts hold at most
 * `share.limit` connections at once, with `plugins` (the request's statement
 * counter). A handle not built on a ShareableDialect is handed back as it is,
 * with the plugins: its work is not limited.
 */
export function withPoolShare(db: Kysely<Database>, share: PoolShare, plugins: readonly KyselyPlugin[] = []): Kysely<Database> {
  const dialect = dialects.get(db);
  const withPlugins = (handle: Kysely<Database>) => plugins.reduce((current, plugin) => current.withPlugin(plugin), handle);
  if (!dialect) return withPlugins(db);
  const shared = withPlugins(new Kysely<Database>({ dialect: dialect.sharing(() => share.acquire()) }));
  let beyondHandle: Kysely<Database> | undefined;
  beyond.set(shared, () => (beyondHandle ??= withPlugins(new Kysely<Database>({ dialect: dialect.sharing(() => share.acquireBeyondLimit()) }))));
  return shared;
}

/**
 * The handle `db` (a request's, from `withPoolShare`) with its checkouts
 * taking a slot of the share at once, even when all are held
 * (`PoolShare.acquireBeyondLimit`). Only for the BEGIN of a transaction
 * opened while the same work holds another connection in an open unit of
 * work and waits for this one (src/db/unit-of-work.ts, a detached unit). A
 * handle without a share is handed back as it is.
 */
export function beyondPoolShare(db: Kysely<Database>): Kysely<Database> {
  return beyond.get(db)?.() ?? db;
}
