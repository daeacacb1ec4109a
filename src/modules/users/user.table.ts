import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { JoinTarget } from '../../db/joined.js';

export type UserRole = 'CUSTOMER' | 'SELLER' | 'ADMIN';

export interface UserTable {
  id: Generated<string>;
  email: string;
  display_name: string;
  role: ColumnType<UserRole, UserRole | undefined, UserRole>;
  password_hash: string | null;
  token_version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export type UserRow = Selectable<UserTable>;
/**
 * A user as loaders and the API read it: every column but the password hash,
 * which only the password checks read, with their own lookups, and
 * `updated_at`, which nothing reads (it is not in the schema): a catalogue
 * page joins 200 users, and each column left out is 200 values fewer to
 * parse.
 */
export type UserRecord = Omit<UserRow, 'password_hash' | 'updated_at'>;
/**
 * The columns of a UserRecord: what the `userById` loader selects, and what
 * a statement of another module that joins users (the catalogue page, review
 * pages) selects to prime that loader. Never the password hash.
 */
export const USER_RECORD_COLUMNS = ['id', 'email', 'display_name', 'role', 'token_version', 'created_at', 'deleted_at'] as const satisfies readonly (keyof UserRecord)[];
/** Users as another module's statement joins them (a product's seller, an order's customer): whole records, for `userById`. */
export const USER_TARGET: JoinTarget<UserRecord, 'userById'> = { table: 'users', columns: USER_RECORD_COLUMNS, loader: 'userById' };
export type NewUserRow = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    users: UserTable;
  }
}
