import { sql, type Kysely } from 'kysely';

import type { Database } from '../db/database.js';

/**
 * Sends notifications on `channel`, one per payload in the order given, in one
 * statement (delivered to every listening session once the statement
 * commits).
 */
export async function notify(db: Kysely<Database>, channel: string, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  await sql`SELECT pg_notify(${channel}, payload) FROM unnest(${[...payloads]}::text[]) AS payload`.execute(db);
}
