/** The current schema as Kysely sees it: each module declares its tables, the module registry merges them. */
export type { Database } from '../modules/registry.js';
