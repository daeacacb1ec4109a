import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJoins, joinsReader, takeOwn, type Join } from '../../db/joined.js';
import type { JoinedRow } from '../../loaders/joined.js';
import { USER_TARGET } from '../users/user.table.js';
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

const SESSION_COLUMNS = [
  'id',
  'user_id',
  'family_id',
  'token_hash',
  'replaced_by',
  'signed_in_at',
  'created_at',
  'expires_at',
  'revoked_at',
  'revoked_reason',
  'user_agent',
  'ip',
] as const satisfies readonly (keyof SessionRow)[];
const WITH_USER: readonly Join[] = [{ relation: 'user', foreignKey: 'user_id', target: USER_TARGET, nested: [] }];
const readUser = joinsReader(WITH_USER);

/**
 * The live head of one family with its user's record joined (for the users
 * module's loader): what authenticating an access token reads, in one
 * statement. `undefined` when the family is not signed in.
 */
export async function findLiveSessionWithUser(db: Kysely<Database>, familyId: string): Promise<JoinedRow<SessionRow> | undefined> {
  const row: Record<string, unknown> | undefined = await addJoins(
    db
      .selectFrom('sessions as s')
      .select(SESSION_COLUMNS.map((column) => `s.${column}` as const))
      .where('s.family_id', '=', familyId)
      .where('s.revoked_at', 'is', null)
      .where('s.replaced_by', 'is', null)
      .where('s.expires_at', '>', new Date())
      .limit(1),
    's',
    WITH_USER,
  ).executeTakeFirst();
  return row ? { record: takeOwn<SessionRow>(row, SESSION_COLUMNS), joined: readUser(row) } : undefined;
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
