import { sql, type Kysely } from 'kysely';

import type { Database } from '../db/database.js';

/** Sends one notification on `channel` (delivered to every listening session once the statement commits). */
export async function notify(db: Kysely<Database>, channel: string, payload: string): Promise<void> {
  await sql`SELECT pg_notify(${channel}, ${payload})`.execute(db);
}
