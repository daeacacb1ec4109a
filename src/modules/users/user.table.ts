import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

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
 * which only the password checks read, with their own lookups.
 */
export type UserRecord = Omit<UserRow, 'password_hash'>;
export type NewUserRow = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
