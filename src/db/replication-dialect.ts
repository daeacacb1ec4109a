/**
 * The pieces of the replicated Kysely instance (src/db/replicas.ts): replica
 * pools whose reads fall back to the primary, and kysely-replication's
 * driver with the savepoints the unit of work needs.
 */
import {
  createQueryId,
  IdentifierNode,
  RawNode,
  type DatabaseConnection,
  type Driver,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
  type QueryCompiler,
} from 'kysely';
import { KyselyReplicationDialect, KyselyReplicationDriver, type KyselyReplicationDialectConfig } from 'kysely-replication';

import { isDatabaseUnavailable, PoolShareTimeoutError } from './faults.js';

/**
 * A replica's pool whose reads fall back to the primary: a checkout that
 * cannot be had, or a statement whose connection fails (after the pool's own
 * retry on a new connection), runs on a primary checkout instead. Only plain
 * reads reach a replica, so running one again cannot change anything.
 */
export function fallingBack(replica: PostgresPool, primary: PostgresPool, failed: (error: unknown) => void): PostgresPool {
  const replicaFailure = (error: unknown): boolean => isDatabaseUnavailable(error) && !(error instanceof PoolShareTimeoutError);
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: PostgresPoolClient;
      try {
        client = await replica.connect();
      } catch (error) {
        if (!replicaFailure(error)) throw error;
        failed(error);
        return primary.connect();
      }
      return new FallbackClient(client, primary, replicaFailure, failed);
    },
    end: () => replica.end(),
  };
}

class FallbackClient implements PostgresPoolClient {
  private onPrimary: PostgresPoolClient | undefined;

  constructor(
    private replica: PostgresPoolClient | undefined,
    private readonly primary: PostgresPool,
    private readonly replicaFailure: (error: unknown) => boolean,
    private readonly failed: (error: unknown) => void,
  ) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(statement: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof statement !== 'string') throw new Error('streaming queries are not configured for this pool');
    return this.run<R>(statement, parameters);
  }

  private async run<R>(statement: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    if (this.onPrimary) return this.onPrimary.query<R>(statement, parameters);
    if (!this.replica) throw new Error('the replica checkout was already released');
    try {
      return await this.replica.query<R>(statement, parameters);
    } catch (error) {
      if (!this.replicaFailure(error)) throw error;
      this.failed(error);
      this.replica.release();
      this.replica = undefined;
      this.onPrimary = await this.primary.connect();
      return this.onPrimary.query<R>(statement, parameters);
    }
  }

  release(): void {
    this.replica?.release();
    this.replica = undefined;
    this.onPrimary?.release();
    this.onPrimary = undefined;
  }
}

/**
 * kysely-replication's driver with savepoints (its own has none; the unit of
 * work needs them), run as statements on the transaction's connection, which
 * is the primary's, as PostgresDriver runs them.
 */
class ReplicationDriver extends KyselyReplicationDriver {
  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('savepoint', name), createQueryId()));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('rollback to', name), createQueryId()));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('release', name), createQueryId()));
  }
}

/** `savepoint "name"`: the name as an identifier node, so it is quoted by the compiler. */
function savepointCommand(command: string, name: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}

export class ReplicationDialect extends KyselyReplicationDialect {
  constructor(private readonly parts: KyselyReplicationDialectConfig) {
    super(parts);
  }

  override createDriver(): Driver {
    const { primaryDialect, replicaDialects, replicaStrategy } = this.parts;
    return new ReplicationDriver(primaryDialect.createDriver(), replicaDialects.map((dialect) => dialect.createDriver()), replicaStrategy);
  }
}
