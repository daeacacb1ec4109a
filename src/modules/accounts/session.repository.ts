import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { NewSessionRow, SessionRevokedReason, SessionRow } from './session.table.js';

export async function insertSession(db: Kysely<Database>, session: NewSessionRow): Promise<SessionRow> {
  return db.insertInto('sessions').values(session).returningAll().executeTakeFirstOrThrow();
}

/** The row holding this refresh-token hash, locked until the transaction ends (one rotation at a time). */
export async function lockSessionByTokenHash(db: Kysely<Database>, tokenHash: Buffer): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).forUpdate().executeTakeFirst();
}

export async function markSessionReplaced(db: Kysely<Database>, id: string, replacedBy: string): Promise<void> {
  await db.updateTable('sessions').set({ replaced_by: replacedBy }).where('id', '=', id).execute();
}

/** Revokes every live row of a family; returns how many there were. */
export async function revokeSessionFamily(
  db: Kysely<Database>,
  familyId: string,
  reason: SessionRevokedReason,
  userId?: string,
): Promise<number> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Revokes every live session of a user; returns the number of families ended. */
export async function revokeUserSessions(db: Kysely<Database>, userId: string, reason: SessionRevokedReason): Promise<number> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning(['family_id', 'replaced_by'])
    .execute();
  return new Set(rows.filter((r) => r.replaced_by === null).map((r) => r.family_id)).size;
}

/** Live heads of families (not revoked, not rotated, not expired) for many users, newest first. */
export async function findLiveSessionsByUserIds(db: Kysely<Database>, userIds: readonly string[]): Promise<SessionRow[]> {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', 'in', userIds)
    .where('revoked_at', 'is', null)
    .where('replaced_by', 'is', null)
    .where('expires_at', '>', new Date())
    .orderBy('signed_in_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** The live head of a family, if the family is still signed in. */
export async function findLiveSessionsByFamilyIds(db: Kysely<Database>, familyIds: readonly string[]): Promise<SessionRow[]> {
  if (familyIds.length === 0) return [];
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('family_id', 'in', familyIds)
    .where('revoked_at', 'is', null)
    .where('replaced_by', 'is', null)
    .where('expires_at', '>', new Date())
    .execute();
}

/**
 * Deletes at most `limit` rows of session families that ended (every row
 * revoked or expired) more than `retentionSeconds` ago; returns how many.
 * Whole families go, never part of a live one: a rotated row of a live
 * family is what detects the reuse of its token, and deleting a row would
 * clear its predecessor's `replaced_by` (ON DELETE SET NULL).
 */
export async function deleteEndedSessions(db: Kysely<Database>, limit: number, retentionSeconds: number): Promise<number> {
  const result = await sql`
    DELETE FROM sessions
     WHERE id IN (
       SELECT s.id FROM sessions AS s
        WHERE (s.revoked_at IS NOT NULL OR s.expires_at <= now())
          AND NOT EXISTS (
            SELECT 1 FROM sessions AS f
             WHERE f.family_id = s.family_id
               AND ((f.revoked_at IS NULL AND f.expires_at > now() - make_interval(secs => ${retentionSeconds}))
                 OR f.revoked_at > now() - make_interval(secs => ${retentionSeconds})))
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
