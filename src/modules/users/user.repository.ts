import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { idsMatch, shapedStatement } from '../../db/shaped.js';
import { USER_RECORD_COLUMNS as RECORD_COLUMNS, type NewUserRow, type UserRecord, type UserRow, type UserUpdate } from './user.table.js';

/** Every authenticated request reads its user: compiled once (src/db/shaped.ts). */
const usersByIds = shapedStatement('users.byIds', (db, shape: { one: boolean }, v: { ids: string[] }) =>
  db.selectFrom('users').select(RECORD_COLUMNS).where(idsMatch('id', v.ids, shape.one)),
);

/**
 * Users by id, including deactivated ones (visibility is the service's call),
 * without password hashes. The ids are one array parameter, so the statement
 * text is the same for any number of them (a reusable prepared statement).
 */
export async function findUsersByIds(db: Kysely<Database>, ids: readonly string[]): Promise<UserRecord[]> {
  if (ids.length === 0) return [];
  return usersByIds(db, { one: ids.length === 1 }, { ids: [...ids] });
}

/** The stored password hash of a user (null: none set, or no such user). */
export async function findPasswordHash(db: Kysely<Database>, id: string): Promise<string | null> {
  const row = await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
  return row?.password_hash ?? null;
}

export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export async function insertUser(db: Kysely<Database>, user: NewUserRow): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

/**
 * Applies a change that must invalidate the user's access tokens at once
 * (password, deactivation, logout everywhere): the token version moves with
 * it in the same statement.
 */
export async function updateUserAndBumpTokenVersion(
  db: Kysely<Database>,
  id: string,
  changes: Pick<UserUpdate, 'password_hash' | 'deleted_at'>,
): Promise<UserRow | undefined> {
  return db
    .updateTable('users')
    .set((eb) => ({ ...changes, token_version: eb('token_version', '+', 1), updated_at: new Date() }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Changes a role. Roles are read from the database on every request, so tokens need not be revoked. */
export async function updateUserRole(db: Kysely<Database>, id: string, role: UserRow['role']): Promise<UserRow | undefined> {
  return db.updateTable('users').set({ role, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Locks the user row for the rest of the transaction (serialises concurrent account changes). */
export async function lockUserById(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Changes public profile fields of an active (not deactivated) user. */
export async function updateUserProfile(
  db: Kysely<Database>,
  id: string,
  changes: Pick<UserUpdate, 'display_name'>,
): Promise<UserRecord | undefined> {
  return db
    .updateTable('users')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning(RECORD_COLUMNS)
    .executeTakeFirst();
}
