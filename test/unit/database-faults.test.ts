import { describe, expect, it } from '@jest/globals';
import { CompiledQuery, DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql, type Dialect } from 'kysely';

import { DatabaseAvailability, type OutageLog } from '../../src/db/availability.js';
import type { Database } from '../../src/db/database.js';
import { databaseBusyReason, DatabaseUnavailableError, isDatabaseUnavailable, isRetryableDatabaseError } from '../../src/db/faults.js';
import { isRetryableFirstStatement } from '../../src/db/read-retry.js';

/** Compiles queries only: no connection is ever made. */
const offline: Dialect = {
  createAdapter: () => new PostgresAdapter(),
  createDriver: () => new DummyDriver(),
  createQueryCompiler: () => new PostgresQueryCompiler(),
  createIntrospector: (db) => new PostgresIntrospector(db),
};
const db = new Kysely<Database>({ dialect: offline });
const text = (query: { compile(): CompiledQuery }) => query.compile().sql;

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('which first statements run again after their connection died', () => {
  it('runs reads again, as Kysely writes them and as raw SQL', () => {
    const reads = [
      text(db.selectFrom('products as p').select(['p.id', 'p.updated_at']).where('p.status', '=', 'ACTIVE').orderBy('p.created_at', 'desc').limit(10)),
      text(db.selectFrom('products').select((eb) => eb.fn.countAll<string>().as('n')).where('seller_id', 'in', ['a', 'b'])),
      text(db.with('recent', (qb) => qb.selectFrom('reviews').select('product_id')).selectFrom('recent').selectAll()),
      'SELECT 1',
      '  select pg_backend_pid()',
      '(SELECT 1) UNION (SELECT 2)',
    ];
    for (const statement of reads) expect({ statement, retried: isRetryableFirstStatement(statement) }).toEqual({ statement, retried: true });
  });

  it('runs BEGIN again (nothing of the transaction ran yet), in every form Kysely sends it', () => {
    for (const statement of ['begin', 'start transaction isolation level serializable', 'start transaction read only']) {
      expect(isRetryableFirstStatement(statement)).toBe(true);
    }
  });

  it('never runs a write again, nor a read with side effects or a second statement', () => {
    const writes = [
      text(db.insertInto('categories').values({ name: 'x', slug: 'x' })),
      text(db.updateTable('products').set({ stock: 1 }).where('id', '=', 'x')),
      text(db.deleteFrom('reviews').where('id', '=', 'x')),
      text(db.with('gone', (qb) => qb.deleteFrom('reviews').where('id', '=', 'x').returning('id')).selectFrom('gone').selectAll()),
      text(db.selectFrom('products').select('id').forUpdate()),
      text(db.selectFrom('products').select('id').forShare()),
      sql`SELECT nextval('orders_number_seq')`.compile(db).sql,
      'SELECT pg_advisory_lock(42)',
      'SELECT pg_try_advisory_xact_lock(42)',
      "SELECT set_config('statement_timeout', '1', false)",
      "SELECT pg_notify('changes', 'x')",
      'SELECT pg_terminate_backend(17)',
      'SELECT * INTO copy_of_products FROM products',
      'SELECT 1; DELETE FROM products',
      'COMMIT',
      'ROLLBACK',
      'SAVEPOINT unit_1',
      'UPDATE products SET stock = 0',
    ];
    for (const statement of writes) expect({ statement, retried: isRetryableFirstStatement(statement) }).toEqual({ statement, retried: false });
  });
});

describe('database errors answered 503 rather than 500', () => {
  it('names statements the database could not finish now, through causes too', () => {
    expect(databaseBusyReason(pgError('57014', 'canceling statement due to statement timeout'))).toBe('query_canceled');
    expect(databaseBusyReason(pgError('55P03', 'canceling statement due to lock timeout'))).toBe('lock_not_available');
    expect(databaseBusyReason(pgError('40001', 'could not serialize access'))).toBe('serialization_failure');
    expect(databaseBusyReason(pgError('40P01', 'deadlock detected'))).toBe('deadlock_detected');
    expect(databaseBusyReason(new Error('wrapped', { cause: pgError('57014', 'timeout') }))).toBe('query_canceled');
  });

  it('treats timeouts and lost connections as retryable, everything else as a bug', () => {
    expect(isRetryableDatabaseError(pgError('57014', 'canceling statement due to statement timeout'))).toBe(true);
    expect(isRetryableDatabaseError(pgError('55P03', 'canceling statement due to lock timeout'))).toBe(true);
    expect(isRetryableDatabaseError(new DatabaseUnavailableError(pgError('57P01', 'terminating connection')))).toBe(true);
    expect(isRetryableDatabaseError(pgError('23505', 'duplicate key value violates unique constraint'))).toBe(false);
    expect(isRetryableDatabaseError(pgError('42P01', 'relation does not exist'))).toBe(false);
    expect(isRetryableDatabaseError(new TypeError('x is undefined'))).toBe(false);
    // A timeout is not an outage: the connection still works.
    expect(isDatabaseUnavailable(pgError('57014', 'canceling statement due to statement timeout'))).toBe(false);
  });
});

describe('database availability', () => {
  function monitor() {
    const lines: Array<{ level: 'warn' | 'info'; msg: string; fields: Record<string, unknown> }> = [];
    let clock = 1_000;
    const log: OutageLog = {
      warn: (fields, msg) => lines.push({ level: 'warn', msg, fields }),
      info: (fields, msg) => lines.push({ level: 'info', msg, fields }),
    };
    const availability = new DatabaseAvailability(log, () => clock);
    return { availability, lines, advance: (ms: number) => (clock += ms) };
  }
  const lost = pgError('57P01', 'terminating connection due to administrator command');

  it('warns once when the database goes away and tells once when it is back, whatever fails in between', () => {
    const { availability, lines, advance } = monitor();
    const before = availability.generation;
    const inFlight = availability.ticket();
    availability.failed(lost, before);
    for (let i = 0; i < 50; i++) availability.failed(pgError('ECONNREFUSED', 'connect ECONNREFUSED'));
    for (let i = 0; i < 5; i++) availability.failed(lost, before);
    expect(availability.available).toBe(false);
    // A statement that started before the outage and succeeds now proves nothing.
    availability.succeeded(inFlight);
    expect(availability.available).toBe(false);
    advance(1_500);
    availability.succeeded(availability.ticket());
    expect(availability.available).toBe(true);
    expect(lines).toEqual([
      { level: 'warn', msg: 'database unavailable: answering 503 until it is back', fields: { db: { code: '57P01', message: lost.message } } },
      { level: 'info', msg: 'database available again', fields: { downMs: 1_500, failures: 56 } },
    ]);
  });

  it('counts connections from before an outage that die after it as part of it, and a later loss as a new one', () => {
    const { availability, lines } = monitor();
    const old = availability.generation;
    availability.failed(lost, old);
    const fresh = availability.generation;
    availability.succeeded(availability.ticket());
    // An idle connection opened before the outage, found dead after it: no new outage.
    availability.failed(lost, old);
    expect(availability.available).toBe(true);
    // A connection opened since then, lost: a new outage.
    availability.failed(lost, fresh);
    expect(availability.available).toBe(false);
    expect(lines.map((line) => line.level)).toEqual(['warn', 'info', 'warn']);
  });
});
