import { sql, type Kysely } from 'kysely';

/**
 * Where a schema change made in phases (expand, dual-write, backfill,
 * switch reads, contract: src/transitions/, docs/operations/migrations.md)
 * keeps what the running instances must agree on: how far its backfill got
 * (the cursor, committed with each batch, so a backfill resumes where it
 * stopped) and whether reads moved to the new shape. One row per
 * transition, created when its backfill is first started. A new table:
 * nothing reads it yet.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('schema_transitions')
    // `<module>.<name>`, as the module declares it.
    .addColumn('name', 'text', (col) => col.primaryKey().check(sql`name ~ '^[a-z][a-zA-Z0-9]*\\.[a-z][a-zA-Z0-9]*$'`))
    // The key of the last row the backfill handled; NULL: none yet.
    .addColumn('backfill_cursor', 'text')
    .addColumn('backfill_scanned', 'bigint', (col) => col.notNull().defaultTo(0).check(sql`backfill_scanned >= 0`))
    .addColumn('backfill_changed', 'bigint', (col) => col.notNull().defaultTo(0).check(sql`backfill_changed >= 0`))
    .addColumn('backfill_batches', 'integer', (col) => col.notNull().defaultTo(0).check(sql`backfill_batches >= 0`))
    .addColumn('backfill_started_at', 'timestamptz')
    .addColumn('backfill_completed_at', 'timestamptz')
    .addColumn('reads_switched_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // Reads move only once every row was backfilled.
    .addCheckConstraint('schema_transitions_switch_after_backfill', sql`reads_switched_at IS NULL OR backfill_completed_at IS NOT NULL`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('schema_transitions').execute();
}
