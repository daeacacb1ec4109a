/** The current schema as Kysely sees it: each module declares its tables, src/modules/tables.ts lists them. */
export type { Database } from '../modules/tables.js';
