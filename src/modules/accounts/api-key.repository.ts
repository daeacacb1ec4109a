import { sql, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { UserRecord } from '../users/user.table.js';
import type { ApiKeyRow, NewApiKeyRow } from './api-key.table.js';

export async function insertApiKey(db: Kysely<Database>, key: NewApiKeyRow): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values(key).returningAll().executeTakeFirstOrThrow();
}

/** A key by its public prefix, with its owner, in one statement (authentication runs it once per request). */
export async function findApiKeyWithOwnerByPrefix(
  db: Kysely<Database>,
  prefix: string,
): Promise<{ key: ApiKeyRow; owner: UserRecord } | undefined> {
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('users as u', 'u.id', 'k.user_id')
    .selectAll('k')
    .select([
      'u.email as owner_email',
      'u.display_name as owner_display_name',
      'u.role as owner_role',
      'u.token_version as owner_token_version',
      'u.created_at as owner_created_at',
      'u.deleted_at as owner_deleted_at',
    ])
    .where('k.prefix', '=', prefix)
    .executeTakeFirst();
  if (!row) return undefined;
  const {
    owner_email,
    owner_display_name,
    owner_role,
    owner_token_version,
    owner_created_at,
    owner_deleted_at,
    ...key
  } = row;
  return {
    key,
    owner: {
      id: key.user_id,
      email: owner_email,
      display_name: owner_display_name,
      role: owner_role,
      token_version: owner_token_version,
      created_at: owner_created_at,
      deleted_at: owner_deleted_at,
    },
  };
}

export async function findApiKeysByUserIds(db: Kysely<Database>, userIds: readonly string[]): Promise<ApiKeyRow[]> {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('user_id', 'in', userIds)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

export async function findApiKeysByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ApiKeyRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('api_keys').selectAll().where('id', 'in', ids).execute();
}

/** Revokes one of a user's keys; undefined when it is not theirs or already revoked. */
export async function revokeApiKeyOfUser(db: Kysely<Database>, id: string, userId: string): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function revokeUserApiKeys(db: Kysely<Database>, userId: string): Promise<number> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Records use, at most once a minute per key: a no-op when it was recorded recently. */
export async function touchApiKey(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: new Date() })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)]))
    .execute();
}
