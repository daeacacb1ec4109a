/**
 * One span per SQL statement, made at Kysely's connection level: every
 * statement that reaches the database (queries, BEGIN/COMMIT, savepoints) is
 * seen exactly once, with its parameterised text (never the bound values) and
 * its failure if it fails. Statements run outside a traced request (start-up
 * migrations, background work) make no span.
 */
import { SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';

import { parentContext, tracer } from './tracing.js';

/** "SELECT", "INSERT", "BEGIN", ...: the span name, low-cardinality as OpenTelemetry asks. */
function operationOf(sqlText: string): string {
  const match = /^\s*(?:\(\s*)*([A-Za-z]+)/.exec(sqlText);
  return match?.[1] ? match[1].toUpperCase() : 'SQL';
}

/** Not async itself: a statement outside a recorded trace (tracing off) costs no promise of its own. */
function traced<T>(compiled: CompiledQuery, run: () => Promise<T>): Promise<T> {
  const parent = parentContext();
  if (!trace.getSpan(parent)?.isRecording()) return run();
  return inSpan(compiled, run, parent);
}

async function inSpan<T>(compiled: CompiledQuery, run: () => Promise<T>, parent: Context): Promise<T> {
  const span = tracer().startSpan(
    operationOf(compiled.sql),
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.system': 'postgresql', 'db.query.text': compiled.sql },
    },
    parent,
  );
  try {
    const result = await run();
    const rows = (result as Partial<QueryResult<unknown>>).rows;
    if (Array.isArray(rows)) span.setAttribute('db.response.returned_rows', rows.length);
    return result;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    span.setAttribute('error.type', typeof code === 'string' ? code : error instanceof Error ? error.name : 'error');
    throw error;
  } finally {
    span.end();
  }
}

class TracingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return traced(compiledQuery, () => this.inner.executeQuery<R>(compiledQuery));
  }

  streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(compiledQuery, chunkSize);
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof TracingConnection ? connection.inner : connection;
}

class TracingDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new TracingConnection(await this.inner.acquireConnection());
  }

  // Transaction statements go through the wrapper, so BEGIN and COMMIT are spans too.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.savepoint) throw new Error('the database driver does not support savepoints');
    return this.inner.savepoint(connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.rollbackToSavepoint) throw new Error('the database driver does not support savepoints');
    return this.inner.rollbackToSavepoint(connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.releaseSavepoint) throw new Error('the database driver does not support savepoints');
    return this.inner.releaseSavepoint(connection, name, compile);
  }

  // The pg driver's release needs its own connection object back.
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Wraps a dialect so that each statement it runs is a span of the current trace. */
export class TracingDialect implements Dialect {
  constructor(private readonly inner: Dialect) {}

  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }

  createDriver(): Driver {
    return new TracingDriver(this.inner.createDriver());
  }

  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }

  // Kysely<any> is what the Dialect interface itself declares.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}
