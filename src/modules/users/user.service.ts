import { actsAsAdmin } from '../../auth/viewer.js';
import type { MaybePromise } from '../../loaders/record-loader.js';
import type { Scope } from '../../scope/scope.js';
import type { InputCheck } from '../../validation/input.js';
import { plainTextLineFrom } from '../../validation/plain-text.js';
import type { UserLoaders } from './user.loaders.js';
import {
  findPasswordHash,
  findUserByEmail as findUserByEmailRow,
  insertUser,
  lockUserById,
  updateUserAndBumpTokenVersion,
  updateUserProfile,
} from './user.repository.js';
import type { NewUserRow, UserRecord, UserRow, UserUpdate } from './user.table.js';

/** The longest display name, in code points; the `users.display_name` check constraint says the same. */
export const DISPLAY_NAME_MAX_LENGTH = 80;

/**
 * The one display-name rule, for every input that sets one (signing up,
 * changing the profile): plain text on one line under the plain-text policy,
 * trimmed, 1 to DISPLAY_NAME_MAX_LENGTH code points. Records REQUIRED for an
 * empty or blank value, INVALID for control characters or markup, TOO_LONG
 * over the limit, and returns the trimmed name when it is acceptable.
 */
export function checkDisplayName(check: InputCheck, field: string[], value: string | null | undefined): string | undefined {
  return check.text(field, value, { required: true, max: DISPLAY_NAME_MAX_LENGTH, label: 'display name' });
}

/** The display name of an account whose provider sent no usable name; the user can change it with `updateProfile`. */
export const FALLBACK_DISPLAY_NAME = 'New user';

/**
 * The display name for an account created from an identity provider's
 * `name` claim. A sign-in must not fail because the provider's name is odd,
 * so instead of refusing, the name is made to fit the display-name rule:
 * control characters become spaces, it is cut to DISPLAY_NAME_MAX_LENGTH code
 * points without splitting a character, and a name that is empty or holds
 * markup gives FALLBACK_DISPLAY_NAME. The result always passes `checkDisplayName`.
 */
export function displayNameFromProvider(name: string | null | undefined): string {
  return plainTextLineFrom(name, DISPLAY_NAME_MAX_LENGTH) ?? FALLBACK_DISPLAY_NAME;
}

/** Deactivated (soft-deleted) accounts are not visible through the public API. */
export function isUserVisible(user: UserRecord): boolean {
  return user.deleted_at === null;
}

/**
 * A user by id, or null when missing or deactivated. Deactivated users are
 * returned only where an admin explicitly reads history (the audit log).
 *
 * A user the request's loader was primed with (a seller or review author read
 * by a page's join) is answered at once, without a promise; others load.
 */
export function getUser(scope: Scope<UserLoaders>, id: string, options: { includeDeactivated?: boolean } = {}): MaybePromise<UserRecord | null> {
  const primed = scope.loaders.userById.peek(id);
  if (primed !== undefined) return visibleUser(scope, primed, options);
  return scope.loaders.userById.load(id).then((user) => visibleUser(scope, user, options));
}

function visibleUser(scope: Scope<UserLoaders>, user: UserRecord | null, options: { includeDeactivated?: boolean }): UserRecord | null {
  if (!user) return null;
  if (isUserVisible(user)) return user;
  return options.includeDeactivated && actsAsAdmin(scope.viewer) ? user : null;
}

/**
 * Hands the per-request `userById` loader user records another module's
 * statement read by a join (sellers with a product page, authors with a
 * review page), so later loads need no statement. The records are whole
 * (USER_RECORD_COLUMNS, deactivated ones included): visibility stays
 * `getUser`'s decision. A key the loader already holds keeps its value.
 */
export function primeUsers(scope: Scope<UserLoaders>, users: Iterable<UserRecord>): void {
  for (const user of users) scope.loaders.userById.prime(user.id, user);
}

/** A user row by id whatever its state (for authentication and account services, not for display). */
export async function loadUserRow(scope: Scope<UserLoaders>, id: string): Promise<UserRecord | null> {
  return scope.loaders.userById.load(id);
}

/** The row without its password hash, as loaders hold users. */
export function toUserRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    role: row.role,
    token_version: row.token_version,
    created_at: row.created_at,
    deleted_at: row.deleted_at,
  };
}

/** The user's stored password hash (null when none is set): read only to check a password. */
export async function loadPasswordHash(scope: Scope, id: string): Promise<string | null> {
  return findPasswordHash(scope.db, id);
}

/** Case-insensitive lookup, deactivated accounts included. */
export async function findUserByEmail(scope: Scope, email: string): Promise<UserRow | null> {
  return (await findUserByEmailRow(scope.db, email)) ?? null;
}

export async function createUser(scope: Scope, user: NewUserRow): Promise<UserRow> {
  return insertUser(scope.db, user);
}

/** Locks the user row for the rest of the unit of work (serialises concurrent account changes). */
export async function lockUser(scope: Scope, id: string): Promise<UserRow | null> {
  return (await lockUserById(scope.db, id)) ?? null;
}

/**
 * A change that must end the user's access tokens at once (password,
 * deactivation, logout everywhere): the token version moves with it.
 */
export async function updateUserEndingTokens(
  scope: Scope,
  id: string,
  changes: Pick<UserUpdate, 'password_hash' | 'deleted_at'>,
): Promise<UserRow | null> {
  return (await updateUserAndBumpTokenVersion(scope.db, id, changes)) ?? null;
}

/**
 * Changes public profile fields of an active user; `null` when the user is
 * missing or deactivated. Roles and tokens are untouched: nothing about what
 * the user may do changes.
 */
export async function updateProfileFields(scope: Scope, id: string, changes: Pick<UserUpdate, 'display_name'>): Promise<UserRecord | null> {
  return (await updateUserProfile(scope.db, id, changes)) ?? null;
}
