import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';

export async function findUserIdByIdentity(db: Kysely<Database>, issuer: string, subject: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('user_identities')
    .select('user_id')
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row?.user_id;
}

/** Links an identity; returns false when another request linked the same (issuer, subject) first. */
export async function insertIdentity(db: Kysely<Database>, userId: string, issuer: string, subject: string): Promise<boolean> {
  const result = await db
    .insertInto('user_identities')
    .values({ user_id: userId, issuer, subject })
    .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}
