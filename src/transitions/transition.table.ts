import type { ColumnType, Selectable } from 'kysely';

/** One phased schema change's shared state (migrations/2026_12_08_0015_schema_transitions.ts). */
export interface SchemaTransitionTable {
  /** `<module>.<name>`, as the module declares it (`ModuleDescriptor.transitions`). */
  name: string;
  /** Key of the last row its backfill handled; `null`: none yet. */
  backfill_cursor: string | null;
  /** bigint: pg returns it as a string. Rows the backfill looked at, each once. */
  backfill_scanned: ColumnType<string, string | number | undefined, string | number>;
  /** Rows whose new shape the backfill had to change (bigint). */
  backfill_changed: ColumnType<string, string | number | undefined, string | number>;
  backfill_batches: ColumnType<number, number | undefined, number>;
  backfill_started_at: Date | null;
  backfill_completed_at: Date | null;
  reads_switched_at: Date | null;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export type SchemaTransitionRow = Selectable<SchemaTransitionTable>;
