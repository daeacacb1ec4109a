/**
 * The SQL of phased schema changes (./transition.ts): which of their
 * migrations ran (Kysely's `kysely_migration`) and their shared state
 * (`schema_transitions`).
 */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import type { SchemaTransitionRow } from './transition.table.js';

/** What an instance reads of the phased changes at each refresh (./watcher.ts). */
export interface TransitionState {
  /** Those of the asked migrations that ran. */
  applied: Set<string>;
  /** Whether `schema_transitions` exists. */
  hasTable: boolean;
  /** Its rows, when asked for (and it exists). */
  rows: SchemaTransitionRow[];
  /** The planner's estimate of each asked table's rows (`pg_class.reltuples`; -1 before the first ANALYZE). */
  estimates: Map<string, number>;
}

type JsonRow = Omit<SchemaTransitionRow, 'backfill_started_at' | 'backfill_completed_at' | 'reads_switched_at' | 'updated_at' | 'backfill_scanned' | 'backfill_changed'> & {
  backfill_scanned: number | string;
  backfill_changed: number | string;
  backfill_started_at: string | null;
  backfill_completed_at: string | null;
  reads_switched_at: string | null;
  updated_at: string;
};

const date = (value: string | null) => (value === null ? null : new Date(value));

/**
 * Everything a refresh needs, in one statement: which migrations ran,
 * whether `schema_transitions` exists, its rows when `withRows` (it must
 * exist then: the statement fails with 42P01 otherwise), and the tables'
 * row estimates.
 */
export async function readTransitionState(
  db: Kysely<Database>,
  migrations: readonly string[],
  tables: readonly string[],
  withRows: boolean,
): Promise<TransitionState> {
  const rows = withRows ? sql`(SELECT coalesce(json_agg(t), '[]'::json) FROM schema_transitions t)` : sql`'[]'::json`;
  const result = await sql<{ applied: string[]; has_table: boolean; rows: JsonRow[]; estimates: Record<string, number> }>`
    SELECT ARRAY(SELECT name FROM kysely_migration WHERE name = ANY(${[...migrations]}::text[])) AS applied,
           to_regclass('schema_transitions') IS NOT NULL AS has_table,
           ${rows} AS rows,
           (SELECT coalesce(json_object_agg(t.name, c.reltuples), '{}'::json)
              FROM unnest(${[...tables]}::text[]) AS t(name)
              JOIN pg_class c ON c.oid = to_regclass(t.name)) AS estimates`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('readTransitionState: no row');
  return {
    applied: new Set(row.applied),
    hasTable: row.has_table,
    rows: row.rows.map((r) => ({
      ...r,
      backfill_scanned: String(r.backfill_scanned),
      backfill_changed: String(r.backfill_changed),
      backfill_started_at: date(r.backfill_started_at),
      backfill_completed_at: date(r.backfill_completed_at),
      reads_switched_at: date(r.reads_switched_at),
      updated_at: new Date(r.updated_at),
    })),
    estimates: new Map(Object.entries(row.estimates).map(([name, estimate]) => [name, Number(estimate)])),
  };
}

export async function findTransitionRow(db: Kysely<Database>, name: string): Promise<SchemaTransitionRow | undefined> {
  return db.selectFrom('schema_transitions').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The transition's row, created when missing (its backfill not started). */
export async function ensureTransitionRow(db: Kysely<Database>, name: string): Promise<void> {
  await db.insertInto('schema_transitions').values({ name }).onConflict((oc) => oc.column('name').doNothing()).execute();
}

/** Locks the row until the caller's transaction ends: one backfill batch at a time, whoever runs it. */
export async function lockTransitionRow(db: Kysely<Database>, name: string): Promise<SchemaTransitionRow | undefined> {
  return db.selectFrom('schema_transitions').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
}

/** Marks the backfill started (kept from the first start); `restart` forgets its progress and completion, and reads move back. */
export async function markBackfillStarted(db: Kysely<Database>, name: string, restart: boolean): Promise<SchemaTransitionRow> {
  const restarted = restart
    ? {
        backfill_cursor: null,
        backfill_scanned: 0,
        backfill_changed: 0,
        backfill_batches: 0,
        backfill_completed_at: null,
        reads_switched_at: null,
        backfill_started_at: sql<Date>`now()`,
      }
    : { backfill_started_at: sql<Date>`coalesce(backfill_started_at, now())` };
  return db
    .updateTable('schema_transitions')
    .set({ ...restarted, updated_at: sql<Date>`now()` })
    .where('name', '=', name)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface BatchRecord {
  cursor: string | null;
  scanned: number;
  changed: number;
  completed: boolean;
}

/** One batch done: the cursor moves and the counts grow in the batch's own transaction, so a batch counts once or not at all. */
export async function recordBackfillBatch(db: Kysely<Database>, name: string, batch: BatchRecord): Promise<void> {
  await db
    .updateTable('schema_transitions')
    .set({
      backfill_cursor: batch.cursor,
      backfill_scanned: sql<string>`backfill_scanned + ${batch.scanned}`,
      backfill_changed: sql<string>`backfill_changed + ${batch.changed}`,
      backfill_batches: sql<number>`backfill_batches + 1`,
      ...(batch.completed ? { backfill_completed_at: sql<Date>`now()` } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('name', '=', name)
    .execute();
}

/** Reads on the new shape (`true`) or back on the old one; only after a completed backfill (the table's CHECK says so too). */
export async function setReadsSwitched(db: Kysely<Database>, name: string, switched: boolean): Promise<SchemaTransitionRow | undefined> {
  return db
    .updateTable('schema_transitions')
    .set({ reads_switched_at: switched ? sql<Date>`coalesce(reads_switched_at, now())` : null, updated_at: sql<Date>`now()` })
    .where('name', '=', name)
    .where('backfill_completed_at', 'is not', null)
    .returningAll()
    .executeTakeFirst();
}
