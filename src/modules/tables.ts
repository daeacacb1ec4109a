import type { IdempotencyKeyTable } from '../idempotency/idempotency.table.js';
import type { SchemaTransitionTable } from '../transitions/transition.table.js';

/**
 * The current schema as Kysely sees it: one property per table. Each module
 * adds its own tables from its `*.table.ts` file (interface merging:
 * `declare module '../tables.js' { interface Database { products: ProductTable } }`),
 * so this file names no module's table and imports nothing of the
 * application (table files import nothing either).
 */
export interface Database {
  /** Cross-cutting (src/idempotency), not a module's. */
  idempotency_keys: IdempotencyKeyTable;
  /** Cross-cutting (src/transitions): the state of schema changes made in phases. */
  schema_transitions: SchemaTransitionTable;
}

/** The tables that belong to no module (each module lists its own in its descriptor's `tables`). */
export const CROSS_CUTTING_TABLES = ['idempotency_keys', 'schema_transitions'] as const satisfies readonly (keyof Database)[];
