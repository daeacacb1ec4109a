import type { ColumnType, Selectable } from 'kysely';

export type IdempotencyStatus = 'IN_PROGRESS' | 'COMPLETED';

export interface IdempotencyKeyTable {
  principal: string;
  /** `session:<family id>`, `api_key:<key id>` or `oidc`: the credential that sent the first request. */
  credential: string;
  key: string;
  fingerprint: string;
  status: IdempotencyStatus;
  claim_id: string;
  locked_until: Date;
  response_status: number | null;
  response_content_type: string | null;
  /** The response body, encrypted (src/idempotency/sealed-response.ts). */
  response_body: string | null;
  created_at: ColumnType<Date, Date | undefined, Date>;
  expires_at: Date;
}

export type IdempotencyKeyRow = Selectable<IdempotencyKeyTable>;
