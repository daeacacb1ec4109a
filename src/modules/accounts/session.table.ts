import type { Generated, Insertable, Selectable } from 'kysely';

export type SessionRevokedReason =
  | 'LOGOUT'
  | 'LOGOUT_EVERYWHERE'
  | 'REUSE_DETECTED'
  | 'PASSWORD_CHANGED'
  | 'DEACTIVATED'
  | 'REVOKED_BY_USER';

/** A refresh-token session; rotation creates a new row in the same family. */
export interface SessionTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: Buffer;
  replaced_by: string | null;
  signed_in_at: Generated<Date>;
  created_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: SessionRevokedReason | null;
  user_agent: string | null;
  ip: string | null;
}

export type SessionRow = Selectable<SessionTable>;
export type NewSessionRow = Insertable<SessionTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    sessions: SessionTable;
  }
}
