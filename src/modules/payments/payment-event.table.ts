import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** What a payment webhook did (docs/guides/payments-webhook.md lists them). */
export const PAYMENT_EVENT_OUTCOMES = ['APPLIED', 'DUPLICATE', 'AMOUNT_MISMATCH', 'UNKNOWN_ORDER', 'ALREADY_FINAL', 'IGNORED'] as const;
export type PaymentEventOutcome = (typeof PAYMENT_EVENT_OUTCOMES)[number];

export interface PaymentEventTable {
  id: Generated<string>;
  webhook_id: string;
  type: string;
  payment_id: string | null;
  order_id: string | null;
  order_ref: string | null;
  /** bigint: pg returns it as a string. */
  amount: ColumnType<string | null, string | number | null, string | number | null>;
  currency: string | null;
  outcome: PaymentEventOutcome;
  detail: string | null;
  occurred_at: Date | null;
  received_at: Generated<Date>;
  payload: ColumnType<unknown, string, never>;
}

export type PaymentEventRow = Selectable<PaymentEventTable>;
export type NewPaymentEventRow = Insertable<PaymentEventTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    payment_events: PaymentEventTable;
  }
}
