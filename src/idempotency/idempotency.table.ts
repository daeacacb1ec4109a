import type { ColumnType, Selectable } from 'kysely';

export type IdempotencyStatus = 'IN_PROGRESS' | 'COMPLETED';

export interface IdempotencyKeyTable {
  principal: string;
  key: string;
  fingerprint: string;
  status: IdempotencyStatus;
  claim_id: string;
  locked_until: Date;
  response_status: number | null;
  response_content_type: string | null;
  response_body: string | null;
  created_at: ColumnType<Date, Date | undefined, Date>;
  expires_at: Date;
}

export type IdempotencyKeyRow = Selectable<IdempotencyKeyTable>;
