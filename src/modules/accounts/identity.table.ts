import type { Generated, Selectable } from 'kysely';

/** A user's account at an external OpenID Connect provider. */
export interface UserIdentityTable {
  id: Generated<string>;
  user_id: string;
  issuer: string;
  subject: string;
  created_at: Generated<Date>;
}

export type UserIdentityRow = Selectable<UserIdentityTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    user_identities: UserIdentityTable;
  }
}
