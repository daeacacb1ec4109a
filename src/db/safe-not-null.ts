/**
 * Making a column NOT NULL on a table in use, for migrations that export
 * `transaction = false` (src/db/migrator.ts). `ALTER COLUMN ... SET NOT NULL`
 * alone scans the whole table under an ACCESS EXCLUSIVE lock: no read or
 * write of it runs meanwhile. Instead, each step in a transaction of its own:
 *
 * 1. refuse, with the caller's message, while any row is NULL (a plain read,
 *    no lock): nothing is changed then;
 * 2. `ADD CONSTRAINT <table>_<column>_not_null CHECK (<column> IS NOT NULL) NOT VALID`:
 *    milliseconds of ACCESS EXCLUSIVE, no scan;
 * 3. `VALIDATE CONSTRAINT`: the scan, under SHARE UPDATE EXCLUSIVE, which
 *    lets reads and writes go on;
 * 4. `SET NOT NULL`: PostgreSQL 12+ takes the validated CHECK as the proof
 *    and skips the scan (milliseconds of ACCESS EXCLUSIVE again);
 * 5. drop the CHECK, which the NOT NULL now says.
 *
 * A step that fails drops the NOT VALID constraint before the error goes up:
 * left behind, it would refuse every update of a row that is still NULL.
 * Every step may run again (the runner starts a migration over after a lock
 * timeout), and a column that is NOT NULL already is left as it is.
 */
import { sql, type Kysely } from 'kysely';

export interface NotNullColumn {
  table: string;
  column: string;
  /** The error's message when rows are NULL, given how many. */
  refusal: (nullRows: number) => string;
}

/** The column is NOT NULL already (`existed`), or was made so (`set`). */
export type NotNullOutcome = 'existed' | 'set';

/** Refused because rows are NULL; nothing was changed. */
export class NullRowsError extends Error {
  override name = 'NullRowsError';
}

function constraintName(column: NotNullColumn): string {
  return `${column.table}_${column.column}_not_null`;
}

async function isNotNull<DB>(db: Kysely<DB>, { table, column }: NotNullColumn): Promise<boolean> {
  const { rows } = await sql<{ not_null: boolean }>`
    SELECT a.attnotnull AS not_null
      FROM pg_attribute a
     WHERE a.attrelid = to_regclass(${table}) AND a.attname = ${column} AND NOT a.attisdropped`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error(`column ${table}.${column} does not exist`);
  return row.not_null;
}

async function constraintExists<DB>(db: Kysely<DB>, table: string, name: string): Promise<boolean> {
  const { rows } = await sql<{ found: number }>`
    SELECT 1 AS found FROM pg_constraint WHERE conrelid = to_regclass(${table}) AND conname = ${name}`.execute(db);
  return rows.length > 0;
}

async function nullRows<DB>(db: Kysely<DB>, { table, column }: NotNullColumn): Promise<number> {
  const { rows } = await sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NULL) AS any`.execute(db);
  if (!rows[0]?.any) return 0;
  // Only on the way to a refusal: the message says how many.
  const counted = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NULL`.execute(db);
  return Number(counted.rows[0]?.n ?? 0);
}

/** Makes `table.column` NOT NULL without a long exclusive lock (see the file's comment). */
export async function setNotNullSafely<DB>(db: Kysely<DB>, target: NotNullColumn): Promise<NotNullOutcome> {
  if (db.isTransaction) {
    throw new Error(`setNotNullSafely(${target.table}.${target.column}) cannot run in a transaction: export \`const transaction = false\` from the migration`);
  }
  if (await isNotNull(db, target)) return 'existed';
  const missing = await nullRows(db, target);
  if (missing > 0) throw new NullRowsError(target.refusal(missing));
  const name = constraintName(target);
  const check = sql.id(name);
  try {
    if (!(await constraintExists(db, target.table, name))) {
      await sql`ALTER TABLE ${sql.table(target.table)} ADD CONSTRAINT ${check} CHECK (${sql.ref(target.column)} IS NOT NULL) NOT VALID`.execute(db);
    }
    await sql`ALTER TABLE ${sql.table(target.table)} VALIDATE CONSTRAINT ${check}`.execute(db);
    await sql`ALTER TABLE ${sql.table(target.table)} ALTER COLUMN ${sql.ref(target.column)} SET NOT NULL`.execute(db);
  } catch (error) {
    await sql`ALTER TABLE ${sql.table(target.table)} DROP CONSTRAINT IF EXISTS ${check}`.execute(db).catch(() => undefined);
    throw error;
  }
  await sql`ALTER TABLE ${sql.table(target.table)} DROP CONSTRAINT IF EXISTS ${check}`.execute(db);
  return 'set';
}
