import { sql, type Compilable, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import { addJoins, joinedReader, joinsReader, prefixedColumns, takeOwn, type Join } from '../../db/joined.js';
import { idsMatch, shapedStatement } from '../../db/shaped.js';
import type { JoinedRow } from '../../loaders/joined.js';
import type { PageRequest } from '../../pagination/connection.js';
import {
  cursorKey,
  keysetCondition,
  pageLimit,
  pageShape,
  pageValues,
  scanDirection,
  shapedPageRequest,
  type KeysetColumns,
  type PageShape,
  type PageValues,
} from '../../pagination/keyset.js';
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
    // One array parameter: the same statement text for any set of states.
    if (criteria.statuses) conditions.push(eb('o.status', '=', eb.fn.any(eb.val(criteria.statuses as OrderStatus[]))));
    if (criteria.createdAfter) conditions.push(eb('o.created_at', '>=', criteria.createdAfter));
    if (criteria.createdBefore) conditions.push(eb('o.created_at', '<', criteria.createdBefore));
    return eb.and(conditions);
  };
}

// The statements of checkout and of every transition, compiled once (src/db/shaped.ts); lists are one array parameter each.

const ordersByIds = shapedStatement('orders.byIds', (db, shape: { one: boolean }, v: { ids: string[] }) =>
  db.selectFrom('orders as o').select(ORDER_COLUMNS).where(idsMatch('o.id', v.ids, shape.one)),
);

export async function findOrdersByIds(db: Kysely<Database>, ids: readonly string[]): Promise<OrderRow[]> {
  if (ids.length === 0) return [];
  return ordersByIds(db, { one: ids.length === 1 }, { ids: [...ids] });
}

/** An order page row's own columns: the order and its sort key. */
const KEYED_ORDER_COLUMNS = [...ORDER_COLUMNS.map((column) => column.slice(2) as StripAlias<typeof column>), 'cursor_key'] as const;

type OrderPageShape = { page: PageShape; party: 'customer' | 'seller'; statuses: boolean; joins: readonly Join[]; withTotal: boolean };
type OrderPageValues = PageValues & { partyId: string; statuses: OrderStatus[] | undefined; createdAfter: Date | undefined; createdBefore: Date | undefined };

/** The statement behind `findOrderPage`, compiled once per shape (order, party, which filters, joins). */
const orderPage = shapedStatement('orders.page', (db, shape: OrderPageShape, v: OrderPageValues): Compilable<Record<string, unknown>> => {
  const request = shapedPageRequest(shape.page, v);
  const direction = scanDirection(request);
  const criteria: OrderCriteria = {
    party: shape.party === 'customer' ? { customerId: v.partyId } : { sellerId: v.partyId },
    ...(v.statuses !== undefined ? { statuses: v.statuses } : {}),
    ...(v.createdAfter !== undefined ? { createdAfter: v.createdAfter } : {}),
    ...(v.createdBefore !== undefined ? { createdBefore: v.createdBefore } : {}),
  };
  let page = db
    .selectFrom('orders as o')
    .select(ORDER_COLUMNS)
    .select(cursorKey(COLUMNS).as('cursor_key'))
    .where(matching(criteria))
    .where(keysetCondition(COLUMNS, request))
    .orderBy('o.created_at', direction)
    .orderBy('o.id', direction)
    .limit(pageLimit(shape.page, 'bound'));
  if (shape.withTotal) {
    // Uncorrelated: PostgreSQL counts once per statement, not per row.
    const total = db.selectFrom('orders as o').select((eb) => eb.fn.countAll<string>().as('n')).where(matching(criteria));
    page = page.select(total.as('total_count'));
  }
  return addJoins(page, 'o', shape.joins);
});

/**
 * One page of a party's orders: `limit + 1` rows in scan order, each with
 * the records of the one-to-one relations in `joins` (its customer, its
 * seller) read in the same statement, for the users module's loader, and
 * with `withTotal` the number of all matching orders.
 */
export async function findOrderPage(
  db: Kysely<Database>,
  criteria: OrderCriteria,
  request: PageRequest,
  joins: readonly Join[] = [],
  withTotal = false,
): Promise<(JoinedRow<KeyedOrderRow> & { total?: number })[]> {
  const customer = 'customerId' in criteria.party;
  const rows = await orderPage(
    db,
    { page: pageShape(request), party: customer ? 'customer' : 'seller', statuses: criteria.statuses !== undefined, joins, withTotal },
    {
      ...pageValues(request),
      partyId: 'customerId' in criteria.party ? criteria.party.customerId : criteria.party.sellerId,
      statuses: criteria.statuses ? [...criteria.statuses] : undefined,
      createdAfter: criteria.createdAfter,
      createdBefore: criteria.createdBefore,
    },
  );
  const read = joinsReader(joins);
  return rows.map((row) => ({
    record: takeOwn<KeyedOrderRow>(row, KEYED_ORDER_COLUMNS),
    joined: read(row),
    ...(row['total_count'] != null ? { total: Number(row['total_count']) } : {}),
  }));
}

export async function countOrders(db: Kysely<Database>, criteria: OrderCriteria): Promise<number> {
  const row = await db
    .selectFrom('orders as o')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(matching(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

const ITEM_COLUMNS = ['id', 'order_id', 'product_id', 'product_title', 'quantity', 'unit_price_amount', 'currency'] as const satisfies readonly (keyof OrderItemRow)[];

/** The items of many orders with their selected relations, compiled once per set of joins. */
const itemsByOrderIds = shapedStatement('orders.items', (db, shape: { joins: readonly Join[]; one: boolean }, v: { orderIds: string[] }): Compilable<Record<string, unknown>> =>
  addJoins(
    db
      .selectFrom('order_items as i')
      .select(ITEM_COLUMNS.map((column) => `i.${column}` as const))
      .where(idsMatch('i.order_id', v.orderIds, shape.one))
      .orderBy('i.order_id')
      .orderBy('i.product_title')
      .orderBy('i.id'),
    'i',
    shape.joins,
  ),
);

/** The items of many orders in one statement, in a stable order (by title, then id). */
export async function findItemsByOrderIds(db: Kysely<Database>, orderIds: readonly string[]): Promise<OrderItemRow[]> {
  return (await findJoinedItemsByOrderIds(db, orderIds, [])).map((row) => row.record);
}

/**
 * The items of many orders in one statement, each with the records of the
 * relations in `joins` (its product, and that product's seller or category
 * when selected) read by joins, for the products, users and categories
 * modules' loaders; whether the viewer may see them stays their services' call.
 */
export async function findJoinedItemsByOrderIds(db: Kysely<Database>, orderIds: readonly string[], joins: readonly Join[]): Promise<JoinedRow<OrderItemRow>[]> {
  if (orderIds.length === 0) return [];
  const read = joinsReader(joins);
  const rows = await itemsByOrderIds(db, { joins, one: orderIds.length === 1 }, { orderIds: [...orderIds] });
  return rows.map((row) => ({ record: takeOwn<OrderItemRow>(row, ITEM_COLUMNS), joined: read(row) }));
}

const RETURNED = ORDER_COLUMNS.map((column) => column.slice(2) as StripAlias<typeof column>);
type StripAlias<C> = C extends `o.${infer Column}` ? Column : never;

/** An order to insert with its lines: one per seller of a cart (the seller names the order its lines belong to). */
export interface NewOrderWithItems {
  order: NewOrderRow;
  items: ReadonlyArray<Omit<NewOrderItemRow, 'order_id'>>;
}

type OrdersWithItemsValues = {
  customerIds: string[];
  sellerIds: string[];
  statuses: string[];
  currencies: string[];
  totals: string[];
  itemSellerIds: string[];
  productIds: string[];
  titles: string[];
  quantities: number[];
  unitPrices: number[];
  itemCurrencies: string[];
};

/** Each item row carries its order's columns, prefixed (`order__`), so one result holds both. */
const readOrderOfItem = joinedReader<OrderRow>('order', RETURNED);

const insertOrdersWithItemsStatement = shapedStatement('orders.insertWithItems', (db, _shape: null, v: OrdersWithItemsValues): Compilable<Record<string, unknown>> =>
  db
    .with('o', (qb) =>
      qb
        .insertInto('orders')
        .columns(['customer_id', 'seller_id', 'status', 'currency', 'total_amount'])
        .expression(
          sql`SELECT * FROM unnest(${v.customerIds}::uuid[], ${v.sellerIds}::uuid[], ${v.statuses}::text[], ${v.currencies}::text[], ${v.totals}::bigint[])`,
        )
        .returning(RETURNED),
    )
    .with('i', (qb) =>
      qb
        .insertInto('order_items')
        .columns(['order_id', 'product_id', 'product_title', 'quantity', 'unit_price_amount', 'currency'])
        .expression(
          sql`SELECT o.id, v.product_id, v.product_title, v.quantity, v.unit_price_amount, v.currency
                FROM unnest(${v.itemSellerIds}::uuid[], ${v.productIds}::uuid[], ${v.titles}::text[], ${v.quantities}::integer[], ${v.unitPrices}::integer[], ${v.itemCurrencies}::text[])
                     AS v(seller_id, product_id, product_title, quantity, unit_price_amount, currency)
                JOIN o ON o.seller_id = v.seller_id`,
        )
        .returningAll(),
    )
    .selectFrom('i')
    .innerJoin('o', 'o.id', 'i.order_id')
    .select(ITEM_COLUMNS.map((column) => `i.${column}` as const))
    .select(prefixedColumns('o', 'order', RETURNED))
    .orderBy('i.order_id')
    .orderBy('i.product_title')
    .orderBy('i.id'),
);

/**
 * Inserts a cart's orders (sellers distinct: each order's lines are matched to
 * it by seller) and their lines in one statement. Returns the orders in the
 * order given, and each order's lines in the order `findItemsByOrderIds`
 * reads them (by title, then id; the title in the database's collation), so
 * a caller can prime the loaders with them.
 */
export async function insertOrdersWithItems(db: Kysely<Database>, carts: readonly NewOrderWithItems[]): Promise<Array<{ order: OrderRow; items: OrderItemRow[] }>> {
  if (carts.length === 0) return [];
  const sellers = carts.map((cart) => cart.order.seller_id);
  if (new Set(sellers).size !== sellers.length) throw new Error('insertOrdersWithItems: one order per seller');
  const lines = carts.flatMap((cart) => cart.items.map((item) => ({ sellerId: cart.order.seller_id, item })));
  const rows = await insertOrdersWithItemsStatement(db, null, {
    customerIds: carts.map((cart) => cart.order.customer_id),
    sellerIds: sellers,
    statuses: carts.map((cart) => cart.order.status ?? 'PENDING_PAYMENT'),
    currencies: carts.map((cart) => cart.order.currency),
    totals: carts.map((cart) => String(cart.order.total_amount)),
    itemSellerIds: lines.map((line) => line.sellerId),
    productIds: lines.map((line) => line.item.product_id),
    titles: lines.map((line) => line.item.product_title),
    quantities: lines.map((line) => line.item.quantity),
    unitPrices: lines.map((line) => line.item.unit_price_amount),
    itemCurrencies: lines.map((line) => line.item.currency),
  });
  const bySeller = new Map<string, { order: OrderRow; items: OrderItemRow[] }>();
  for (const row of rows) {
    const item = takeOwn<OrderItemRow>(row, ITEM_COLUMNS);
    const order = readOrderOfItem(row);
    if (!order) throw new Error('insertOrdersWithItems: a line without its order');
    let entry = bySeller.get(order.seller_id);
    if (!entry) {
      entry = { order, items: [] };
      bySeller.set(order.seller_id, entry);
    }
    entry.items.push(item);
  }
  return sellers.map((sellerId) => {
    const entry = bySeller.get(sellerId);
    if (!entry) throw new Error(`insertOrdersWithItems: no order was inserted for seller ${sellerId}`);
    return entry;
  });
}

export interface OrderChangeCondition {
  expectedVersion: number;
  fromStatuses: readonly OrderStatus[];
}

/** The compare-and-set's values: the condition, and `set_<column>` for each column it sets. */
type UpdateIfValues = { [name: string]: unknown; id: string; expectedVersion: number; fromStatuses: OrderStatus[] };

/** The compare-and-set of every transition; its shape is which columns it sets. */
const updateOrderStatement = shapedStatement(
  'orders.updateIf',
  (db, shape: { columns: string[] }, v: UpdateIfValues) =>
    db
      .updateTable('orders')
      .set(Object.fromEntries(shape.columns.map((column) => [column, v[`set_${column}`]])) as OrderUpdate)
      .set({ version: sql<number>`version + 1`, updated_at: sql<Date>`now()` })
      .where('id', '=', v.id)
      .where('version', '=', v.expectedVersion)
      .where('status', '=', (eb) => eb.fn.any(eb.val(v.fromStatuses)))
      .returning(RETURNED),
);

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
  const columns = Object.keys(changes)
    .filter((column) => changes[column as keyof OrderUpdate] !== undefined)
    .sort();
  const values: UpdateIfValues = { id, expectedVersion: condition.expectedVersion, fromStatuses: [...condition.fromStatuses] };
  for (const column of columns) values[`set_${column}`] = changes[column as keyof OrderUpdate];
  const [row] = await updateOrderStatement(db, { columns }, values);
  return row;
}

const lockOrder = shapedStatement('orders.lock', (db, _shape: null, v: { id: string }) =>
  db.selectFrom('orders as o').select(ORDER_COLUMNS).where('o.id', '=', v.id).forUpdate(),
);

/** The order row, locked until the unit of work ends (`FOR UPDATE`): every transition decides on it. */
export async function lockOrderById(db: Kysely<Database>, id: string): Promise<OrderRow | undefined> {
  const [row] = await lockOrder(db, null, { id });
  return row;
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
