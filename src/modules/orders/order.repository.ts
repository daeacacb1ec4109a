import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, scanDirection, type KeysetColumns } from '../../pagination/keyset.js';
import type { NewOrderItemRow, NewOrderRow, OrderItemRow, OrderRow, OrderStatus, OrderTable, OrderUpdate } from './order.table.js';

const ORDER_COLUMNS = [
  'o.id',
  'o.customer_id',
  'o.seller_id',
  'o.status',
  'o.currency',
  'o.total_amount',
  'o.version',
  'o.created_at',
  'o.updated_at',
  'o.paid_at',
  'o.shipped_at',
  'o.delivered_at',
  'o.cancelled_at',
  'o.refunded_at',
] as const;

/** Lists are sorted by placement time, ties broken by id (index on (party, created_at, id)). */
const COLUMNS: KeysetColumns = { key: 'o.created_at', id: 'o.id' };

/** Whose orders a list shows: a customer's purchases or a seller's sales. */
export type OrderParty = { customerId: string } | { sellerId: string };

/** A validated filter. */
export interface OrderCriteria {
  party: OrderParty;
  statuses?: readonly OrderStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
}

export type KeyedOrderRow = OrderRow & { cursor_key: string };

type OrderScope = Database & { o: OrderTable };

function matching(criteria: OrderCriteria) {
  return (eb: ExpressionBuilder<OrderScope, 'o'>) => {
    const conditions: Expression<SqlBool>[] = [
      'customerId' in criteria.party ? eb('o.customer_id', '=', criteria.party.customerId) : eb('o.seller_id', '=', criteria.party.sellerId),
    ];
    if (criteria.statuses) conditions.push(eb('o.status', 'in', criteria.statuses));
    if (criteria.createdAfter) conditions.push(eb('o.created_at', '>=', criteria.createdAfter));
    if (criteria.createdBefore) conditions.push(eb('o.created_at', '<', criteria.createdBefore));
    return eb.and(conditions);
  };
}

export async function findOrdersByIds(db: Kysely<Database>, ids: readonly string[]): Promise<OrderRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('orders as o').select(ORDER_COLUMNS).where('o.id', 'in', ids).execute();
}

/** One page of a party's orders: `limit + 1` rows in scan order. */
export async function findOrderPage(db: Kysely<Database>, criteria: OrderCriteria, request: PageRequest): Promise<KeyedOrderRow[]> {
  const direction = scanDirection(request);
  return db
    .selectFrom('orders as o')
    .select(ORDER_COLUMNS)
    .select(cursorKey(COLUMNS).as('cursor_key'))
    .where(matching(criteria))
    .where(keysetCondition(COLUMNS, request))
    .orderBy('o.created_at', direction)
    .orderBy('o.id', direction)
    .limit(request.limit + 1)
    .execute();
}

export async function countOrders(db: Kysely<Database>, criteria: OrderCriteria): Promise<number> {
  const row = await db
    .selectFrom('orders as o')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(matching(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** The items of many orders in one statement, in a stable order (by title, then id). */
export async function findItemsByOrderIds(db: Kysely<Database>, orderIds: readonly string[]): Promise<OrderItemRow[]> {
  if (orderIds.length === 0) return [];
  return db.selectFrom('order_items').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').orderBy('product_title').orderBy('id').execute();
}

const RETURNED = ORDER_COLUMNS.map((column) => column.slice(2) as StripAlias<typeof column>);
type StripAlias<C> = C extends `o.${infer Column}` ? Column : never;

/** Inserts several orders in one statement, returning them in the order given. */
export async function insertOrders(db: Kysely<Database>, values: readonly NewOrderRow[]): Promise<OrderRow[]> {
  if (values.length === 0) return [];
  return db.insertInto('orders').values([...values]).returning(RETURNED).execute();
}

/**
 * Inserts order lines in one statement and returns them in the order
 * `findItemsByOrderIds` reads them (by order, title, id, the title compared in
 * the database's collation), so the caller can prime the items loader with
 * them instead of reading them again.
 */
export async function insertOrderItems(db: Kysely<Database>, values: readonly NewOrderItemRow[]): Promise<OrderItemRow[]> {
  if (values.length === 0) return [];
  return db
    .with('inserted', (qb) => qb.insertInto('order_items').values([...values]).returningAll())
    .selectFrom('inserted')
    .selectAll()
    .orderBy('order_id')
    .orderBy('product_title')
    .orderBy('id')
    .execute();
}

export interface OrderChangeCondition {
  expectedVersion: number;
  fromStatuses: readonly OrderStatus[];
}

/**
 * Moves an order to a new state only if it is still at the expected version
 * and in one of the allowed states, bumping version and `updated_at`: the
 * compare-and-set of every transition. `undefined` when nothing matched.
 */
export async function updateOrderIf(
  db: Kysely<Database>,
  id: string,
  condition: OrderChangeCondition,
  changes: OrderUpdate,
): Promise<OrderRow | undefined> {
  return db
    .updateTable('orders')
    .set({ ...changes, version: sql<number>`version + 1`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('version', '=', condition.expectedVersion)
    .where('status', 'in', condition.fromStatuses)
    .returning(RETURNED)
    .executeTakeFirst();
}

/** The order row, locked until the unit of work ends (`FOR UPDATE`): every transition decides on it. */
export async function lockOrderById(db: Kysely<Database>, id: string): Promise<OrderRow | undefined> {
  return db.selectFrom('orders as o').select(ORDER_COLUMNS).where('o.id', '=', id).forUpdate().executeTakeFirst();
}

/**
 * Up to `limit` orders still PENDING_PAYMENT that were placed before
 * `cutoff`, oldest first, locked until the unit of work ends. Rows another
 * transaction holds (a payment being recorded right now) are skipped, not
 * waited for: the next run sees them if they are still unpaid.
 */
export async function lockUnpaidOrdersBefore(db: Kysely<Database>, cutoff: Date, limit: number): Promise<OrderRow[]> {
  return db
    .selectFrom('orders as o')
    .select(ORDER_COLUMNS)
    .where('o.status', '=', 'PENDING_PAYMENT')
    .where('o.created_at', '<', cutoff)
    .orderBy('o.created_at')
    .orderBy('o.id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}
