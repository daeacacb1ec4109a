import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, scanDirection } from '../../pagination/keyset.js';
import type { NewPaymentEventRow, PaymentEventOutcome, PaymentEventRow } from './payment-event.table.js';

/**
 * Inserts the event unless one with its webhook id exists. A concurrent
 * insert of the same id waits for the first one's transaction (the unique
 * index) and then inserts nothing: `undefined` means "already received".
 */
export async function insertPaymentEventIfNew(db: Kysely<Database>, row: NewPaymentEventRow): Promise<{ id: string } | undefined> {
  return db
    .insertInto('payment_events')
    .values(row)
    .onConflict((conflict) => conflict.column('webhook_id').doNothing())
    .returning('id')
    .executeTakeFirst();
}

export async function findPaymentEventByWebhookId(db: Kysely<Database>, webhookId: string): Promise<PaymentEventRow | undefined> {
  return db.selectFrom('payment_events').selectAll().where('webhook_id', '=', webhookId).executeTakeFirst();
}

export async function setPaymentEventOutcome(
  db: Kysely<Database>,
  id: string,
  values: { outcome: PaymentEventOutcome; order_id: string | null; detail: string | null },
): Promise<void> {
  await db.updateTable('payment_events').set(values).where('id', '=', id).execute();
}

/** Whether another event of this payment already marked this order paid. */
export async function hasAppliedPayment(db: Kysely<Database>, paymentId: string, orderId: string, exceptId: string): Promise<boolean> {
  const row = await db
    .selectFrom('payment_events')
    .select('id')
    .where('payment_id', '=', paymentId)
    .where('order_id', '=', orderId)
    .where('outcome', '=', 'APPLIED')
    .where('id', '<>', exceptId)
    .executeTakeFirst();
  return row !== undefined;
}

export interface PaymentEventCriteria {
  outcome?: PaymentEventOutcome;
}

export type KeyedPaymentEventRow = PaymentEventRow & { cursor_key: string };

const COLUMNS = { key: 'p.received_at', id: 'p.id' };

function matching(criteria: PaymentEventCriteria) {
  return (eb: ExpressionBuilder<Database & { p: Database['payment_events'] }, 'p'>) => {
    const conditions: Expression<SqlBool>[] = [];
    if (criteria.outcome !== undefined) conditions.push(eb('p.outcome', '=', criteria.outcome));
    return eb.and(conditions);
  };
}

/** One page of events, newest first by default: `limit + 1` rows in scan order. */
export async function findPaymentEventPage(db: Kysely<Database>, criteria: PaymentEventCriteria, request: PageRequest): Promise<KeyedPaymentEventRow[]> {
  const direction = scanDirection(request);
  return db
    .selectFrom('payment_events as p')
    .selectAll('p')
    .select(cursorKey(COLUMNS).as('cursor_key'))
    .where(matching(criteria))
    .where(keysetCondition(COLUMNS, request))
    .orderBy(sql.ref(COLUMNS.key), direction)
    .orderBy('p.id', direction)
    .limit(request.limit + 1)
    .execute();
}

export async function countPaymentEvents(db: Kysely<Database>, criteria: PaymentEventCriteria): Promise<number> {
  const row = await db
    .selectFrom('payment_events as p')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(matching(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
