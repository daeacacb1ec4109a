/**
 * Index builds that do not block writes, for migrations that export
 * `transaction = false` (src/db/migrator.ts): `CREATE INDEX CONCURRENTLY`
 * cannot run in a transaction, and when it fails (a lock timeout while it
 * waits for older transactions, a duplicate under a unique index, a
 * cancelled statement) it leaves an INVALID index behind that every write
 * still maintains and no query uses. So a build here
 *   - skips an index of that name that exists and is valid (the migration
 *     may be running again after a later statement of it failed);
 *   - drops one left INVALID by an earlier failed build, then builds anew;
 *   - drops what its own failed build left, then rethrows the error.
 */
import { sql, type Kysely } from 'kysely';

export interface ConcurrentIndex {
  /** Index name (in the search path's schema, `public`). */
  name: string;
  /** What follows the name: `ON table (columns) [WHERE ...]`. Trusted text, as in any migration. */
  on: string;
  unique?: boolean;
}

/** `valid`, `invalid` (a failed concurrent build's leftover) or `absent`. */
export async function indexValidity<DB>(db: Kysely<DB>, name: string): Promise<'valid' | 'invalid' | 'absent'> {
  const { rows } = await sql<{ valid: boolean }>`
    SELECT i.indisvalid AS valid
      FROM pg_index i
     WHERE i.indexrelid = to_regclass(${name})`.execute(db);
  const row = rows[0];
  return row === undefined ? 'absent' : row.valid ? 'valid' : 'invalid';
}

export async function dropIndexConcurrently<DB>(db: Kysely<DB>, name: string): Promise<void> {
  await sql`DROP INDEX CONCURRENTLY IF EXISTS ${sql.id(name)}`.execute(db);
}

function assertOutsideTransaction<DB>(db: Kysely<DB>, what: string): void {
  if (db.isTransaction) throw new Error(`${what} cannot run in a transaction: export \`const transaction = false\` from the migration`);
}

/** Builds the index concurrently; what it did: `built`, `rebuilt` (an invalid leftover was dropped first) or `existed`. */
export async function createIndexConcurrently<DB>(db: Kysely<DB>, index: ConcurrentIndex): Promise<'built' | 'rebuilt' | 'existed'> {
  assertOutsideTransaction(db, `CREATE INDEX CONCURRENTLY ${index.name}`);
  const before = await indexValidity(db, index.name);
  if (before === 'valid') return 'existed';
  if (before === 'invalid') await dropIndexConcurrently(db, index.name);
  try {
    await sql`CREATE ${sql.raw(index.unique ? 'UNIQUE ' : '')}INDEX CONCURRENTLY ${sql.id(index.name)} ${sql.raw(index.on)}`.execute(db);
  } catch (error) {
    // A failed build keeps its invalid index; a retry would find it too, but it costs every write until then.
    if ((await indexValidity(db, index.name).catch(() => 'absent')) === 'invalid') {
      await dropIndexConcurrently(db, index.name).catch(() => undefined);
    }
    throw error;
  }
  return before === 'invalid' ? 'rebuilt' : 'built';
}

/** For a `down` that undoes a concurrent build (also outside a transaction). */
export async function dropIndexConcurrentlyInMigration<DB>(db: Kysely<DB>, name: string): Promise<void> {
  assertOutsideTransaction(db, `DROP INDEX CONCURRENTLY ${name}`);
  await dropIndexConcurrently(db, name);
}
