import { actsAsAdmin, type Viewer } from '../../auth/viewer.js';
import type { Join } from '../../db/joined.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { primeJoined } from '../../loaders/joined.js';
import type { MaybePromise } from '../../loaders/record-loader.js';
import { appError, badUserInput } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import { recordChanges } from '../../scope/changes.js';
import { recordEvent, type RecordedEvent } from '../../scope/events.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit, type AuditAction } from '../audit/audit.service.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import { getProduct } from '../products/product.service.js';
import { reverseSale } from '../products/stock.service.js';
import type { ProductRow } from '../products/product.table.js';
import type { OrderLoaders } from './order.loaders.js';
import { countOrders, findOrderPage, lockOrderById, updateOrderIf, type KeyedOrderRow, type OrderCriteria } from './order.repository.js';
import type { OrderCancelReason, OrderItemRow, OrderRow, OrderStatus } from './order.table.js';

/**
 * Orders are private to their customer, their seller and admins in person.
 * An API key reads them only with `orders:read`. Anyone else is told
 * nothing: an order they may not see answers exactly like a missing one.
 */
export function mayReadOrder(viewer: Viewer | null, order: OrderRow): boolean {
  if (!viewer) return false;
  if (viewer.scopes !== null && !viewer.scopes.has('orders:read')) return false;
  return isParty(viewer, order);
}

/** The customer, the seller, or an admin in person (writes: the shield has checked `orders:write` already). */
function isParty(viewer: Viewer, order: OrderRow): boolean {
  return order.customer_id === viewer.userId || order.seller_id === viewer.userId || actsAsAdmin(viewer);
}

export async function getOrder(scope: Scope<OrderLoaders>, id: string): Promise<OrderRow | null> {
  const order = await scope.loaders.orderById.load(id);
  return order && mayReadOrder(scope.viewer, order) ? order : null;
}

/**
 * An order the viewer reads as one party of it: as its customer (their own
 * orders) or as its seller (their sales); `null` otherwise, and when they
 * may not read it at all. Used by the live updates of those lists.
 */
export async function getOrderAsParty(scope: Scope<OrderLoaders>, id: string, party: 'customer' | 'seller'): Promise<OrderRow | null> {
  const order = await getOrder(scope, id);
  if (!order || !scope.viewer) return null;
  const partyId = party === 'customer' ? order.customer_id : order.seller_id;
  return partyId === scope.viewer.userId ? order : null;
}

/**
 * An order's lines, batched with every other order of the request (one
 * statement per batch). With `joins` (the relations the client selected on
 * the lines: their product, its seller or category), the statement reads
 * those records too and hands them to their modules' loaders, where
 * `OrderItem.product` finds them (still through `getProduct` and its rules).
 */
export async function getOrderItems(scope: Scope<OrderLoaders>, order: OrderRow, joins: readonly Join[] = []): Promise<OrderItemRow[]> {
  if (joins.length === 0) return scope.loaders.orderItemsByOrderId.load(order.id);
  const rows = await scope.loaders.orderItemsByOrderIdJoined.load(order.id, joins);
  const items: OrderItemRow[] = [];
  for (const { record, joined } of rows) {
    items.push(record);
    primeJoined(scope.loaders, joined);
  }
  return items;
}

/** The product behind a line as it is now, if the viewer may still see it; the line's snapshot stays either way. */
export function getOrderItemProduct(scope: Scope<ProductLoaders>, item: OrderItemRow): MaybePromise<ProductRow | null> {
  return getProduct(scope, item.product_id);
}

export interface OrderFilterInput {
  statuses?: readonly OrderStatus[] | null;
  createdAfter?: Date | string | null;
  createdBefore?: Date | string | null;
}

export interface OrderListArgs extends ConnectionArgs {
  filter?: OrderFilterInput | null;
}

function toDate(value: Date | string, argument: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw badUserInput(argument, `\`${argument}\` must be an ISO 8601 date-time.`);
  return date;
}

/** Validates a client filter into criteria; every problem names its argument. */
export function toOrderCriteria(party: OrderCriteria['party'], filter: OrderFilterInput | null | undefined): OrderCriteria {
  const criteria: OrderCriteria = { party };
  if (!filter) return criteria;
  if (filter.statuses != null) {
    if (filter.statuses.length === 0) throw badUserInput('filter.statuses', '`filter.statuses` must name at least one status.');
    criteria.statuses = [...new Set(filter.statuses)].sort();
  }
  if (filter.createdAfter != null) criteria.createdAfter = toDate(filter.createdAfter, 'filter.createdAfter');
  if (filter.createdBefore != null) criteria.createdBefore = toDate(filter.createdBefore, 'filter.createdBefore');
  if (criteria.createdAfter && criteria.createdBefore && criteria.createdAfter > criteria.createdBefore) {
    throw badUserInput('filter.createdBefore', '`filter.createdBefore` must not be earlier than `filter.createdAfter`.');
  }
  return criteria;
}

/**
 * A user's purchases (`customer`) or sales (`seller`), newest first. Only the
 * user themselves gets a list (the permission layer says so too); anyone
 * else gets `null`. Rows are primed into the order loader, and the records of
 * the relations in `joins` (customer, seller: read in the page's statement)
 * into the users module's loader.
 */
export async function listOrdersOf(
  scope: Scope<OrderLoaders>,
  userId: string,
  role: 'customer' | 'seller',
  args: OrderListArgs,
  joins: readonly Join[] = [],
  withTotal = false,
): Promise<Connection<KeyedOrderRow> | null> {
  const viewer = scope.viewer;
  if (!viewer || viewer.userId !== userId || (viewer.scopes !== null && !viewer.scopes.has('orders:read'))) return null;
  const criteria = toOrderCriteria(role === 'customer' ? { customerId: userId } : { sellerId: userId }, args.filter);
  const request = parsePageRequest(args, { name: 'CREATED_AT', kind: 'timestamp', direction: 'DESC' });
  const page = await findOrderPage(scope.db, criteria, request, joins, withTotal);
  const rows: KeyedOrderRow[] = [];
  for (const { record, joined } of page) {
    rows.push(record);
    scope.loaders.orderById.prime(record.id, record);
    primeJoined(scope.loaders, joined);
  }
  // Counted in the page's statement when selected (`withTotal`); otherwise, or for an empty page, only if the field is resolved.
  const total = page[0]?.total;
  return toConnection(rows, request, () => (total !== undefined ? Promise.resolve(total) : countOrders(scope.db, criteria)));
}

// ---------------------------------------------------------------------------
// Transitions. The order row is locked first (then, for a restock, its
// products in id order: the same order checkout uses, so no deadlock), and
// every decision is taken on the locked row.
// ---------------------------------------------------------------------------

type Stamp = 'paid_at' | 'shipped_at' | 'delivered_at' | 'cancelled_at' | 'refunded_at';

interface Transition {
  to: OrderStatus;
  from: readonly OrderStatus[];
  /** Who may make it: the order's customer, its seller, or an admin in person. */
  actor: 'customer' | 'seller' | 'admin';
  stamp: Stamp;
  verb: string;
  audit?: AuditAction;
  /** Whether the units go back on sale, given the status before the move. */
  restock: (from: OrderStatus) => boolean;
  /** The order's units no longer count as sold (`Product.soldCount`). */
  unsells: boolean;
}

/**
 * The state machine. Stock policy: a cancelled order's units return (it was
 * never paid); a refund returns them only from PAID (nothing left the
 * warehouse); after shipping the goods are with the carrier or the customer,
 * and the seller puts returned units back with `updateProduct`. Either way a
 * cancelled or refunded order's units no longer count as sold.
 */
export const ORDER_TRANSITIONS = {
  cancel: { to: 'CANCELLED', from: ['PENDING_PAYMENT'], actor: 'customer', stamp: 'cancelled_at', verb: 'cancelled', audit: 'ORDER_CANCELLED', restock: () => true, unsells: true },
  markPaid: { to: 'PAID', from: ['PENDING_PAYMENT'], actor: 'admin', stamp: 'paid_at', verb: 'marked paid', audit: 'ORDER_PAID', restock: () => false, unsells: false },
  ship: { to: 'SHIPPED', from: ['PAID'], actor: 'seller', stamp: 'shipped_at', verb: 'shipped', restock: () => false, unsells: false },
  deliver: { to: 'DELIVERED', from: ['SHIPPED'], actor: 'seller', stamp: 'delivered_at', verb: 'delivered', restock: () => false, unsells: false },
  refund: {
    to: 'REFUNDED',
    from: ['PAID', 'SHIPPED', 'DELIVERED'],
    actor: 'admin',
    stamp: 'refunded_at',
    verb: 'refunded',
    audit: 'ORDER_REFUNDED',
    restock: (from) => from === 'PAID',
    unsells: true,
  },
} as const satisfies Record<string, Transition>;

export type OrderTransitionName = keyof typeof ORDER_TRANSITIONS;

export interface OrderTransitionInput {
  /** Raw id, or `null` for an id of another type (answered NOT_FOUND). */
  orderId: string | null;
  expectedVersion: number;
}

export interface OrderResult {
  order: OrderRow | null;
  userErrors: UserErrorData[];
}

const notFound = (): UserErrorData => ({ field: ['input', 'orderId'], code: 'NOT_FOUND', message: 'No such order.' });

const ACTOR_REFUSAL: Record<Transition['actor'], string> = {
  customer: 'Only the customer who placed this order can do this.',
  seller: "Only the order's seller can do this.",
  admin: 'Only admins can do this.',
};

function isActor(viewer: Viewer, order: OrderRow, actor: Transition['actor']): boolean {
  if (actor === 'admin') return actsAsAdmin(viewer);
  return actor === 'customer' ? order.customer_id === viewer.userId : order.seller_id === viewer.userId;
}

/** Who made a move, as the audit event records it: a person, or the system with what it acted on. */
export interface TransitionAuthor {
  /** The user, or `null` for the system (payment provider, payment expiry). */
  actorId: string | null;
  /** Added to the audit event's metadata (the system's `actor`, `source`, `reason`, payment id). */
  metadata?: Record<string, unknown>;
  /** Why the system cancels (the `order.cancelled` event's reason); a person's reason is who they are to the order. */
  cancelReason?: OrderCancelReason;
}

/**
 * Makes a checked move on a row the caller locked (`lockOrderById`) in its
 * unit of work: the compare-and-set update with its timestamp, the stock
 * returned where the policy says, the audit event, the change for caches.
 * Every transition goes through here, whoever makes it (transitionOrder for
 * people, order-system.service.ts for the payment webhook and the expiry).
 * The caller has checked that `current.status` is one the move starts from.
 */
export async function applyTransition(
  unit: Scope<OrderLoaders & ProductLoaders>,
  name: OrderTransitionName,
  current: OrderRow,
  author: TransitionAuthor,
): Promise<OrderRow> {
  const transition: Transition = ORDER_TRANSITIONS[name];
  const order = await updateOrderIf(
    unit.db,
    current.id,
    { expectedVersion: current.version, fromStatuses: transition.from },
    { status: transition.to, [transition.stamp]: new Date() },
  );
  // The row is locked and was checked by the caller: a miss here is a bug, and throwing rolls everything back.
  if (!order) throw new Error(`order ${current.id} did not match its locked state`);
  unit.loaders.orderById.clear(current.id).prime(current.id, order);
  if (transition.unsells) {
    const items = await unit.loaders.orderItemsByOrderId.load(current.id);
    await reverseSale(unit, items.map((item) => ({ productId: item.product_id, quantity: item.quantity })), { restock: transition.restock(current.status) });
  }
  if (transition.audit) {
    await recordAudit(unit, {
      action: transition.audit,
      actorId: author.actorId,
      targetType: 'Order',
      targetId: current.id,
      metadata: { ...author.metadata, from: current.status, to: transition.to, version: order.version },
    });
  }
  await recordChanges(unit, { entity: 'order', id: current.id, customerId: current.customer_id, sellerId: current.seller_id });
  // The business event, for the order's customer and seller, handed to the event sinks before COMMIT.
  await recordEvent(unit, orderEvent(name, order, author.cancelReason ?? cancelReason(author.actorId, order)));
  return order;
}

/**
 * Moves an order along the state machine, in one unit of work: lock, check
 * (NOT_FOUND for an order the viewer may not see; FORBIDDEN for a party who
 * may see it but not make this move; VERSION_CONFLICT with the current
 * version; INVALID_TRANSITION naming the current status), update with its
 * timestamp, put stock back where the policy says, audit.
 */
export async function transitionOrder(
  scope: Scope<OrderLoaders & ProductLoaders>,
  name: OrderTransitionName,
  input: OrderTransitionInput,
): Promise<OrderResult> {
  const viewer = scope.viewer;
  if (!viewer) throw appError('UNAUTHENTICATED', 'Sign in to do this.');
  const transition: Transition = ORDER_TRANSITIONS[name];
  const check = new InputCheck();
  if (input.orderId === null) check.errors.add(['input', 'orderId'], 'NOT_FOUND', 'No such order.');
  check.integer(['input', 'expectedVersion'], input.expectedVersion, { required: true, min: 1, max: 2_147_483_647, label: 'expected version' });
  const orderId = input.orderId;
  if (!check.ok || orderId === null) return { order: null, userErrors: check.errors.list };

  return unitOfWork(
    scope,
    async (unit): Promise<OrderResult> => {
      const current = await lockOrderById(unit.db, orderId);
      if (!current || !isParty(viewer, current)) return { order: null, userErrors: [notFound()] };
      if (!isActor(viewer, current, transition.actor)) throw appError('FORBIDDEN', ACTOR_REFUSAL[transition.actor]);
      if (current.version !== input.expectedVersion) {
        return {
          order: null,
          userErrors: [
            {
              field: ['input', 'expectedVersion'],
              code: 'VERSION_CONFLICT',
              message: `The order changed since you read it (now version ${current.version}); reload it and try again.`,
              currentVersion: current.version,
            },
          ],
        };
      }
      if (!transition.from.includes(current.status)) {
        return {
          order: null,
          userErrors: [{ field: null, code: 'INVALID_TRANSITION', message: `A ${current.status} order cannot be ${transition.verb}.` }],
        };
      }
      const order = await applyTransition(unit, name, current, { actorId: viewer.userId });
      return { order, userErrors: [] };
    },
    { rerunnable: true },
  );
}

/** Who cancelled, as the `order.cancelled` event tells it (the system says why itself: `cancelReason`). */
function cancelReason(actorId: string | null, order: OrderRow): OrderCancelReason {
  if (order.customer_id === actorId) return 'CUSTOMER';
  return order.seller_id === actorId ? 'SELLER' : 'ADMIN';
}

const EVENT_OF_TRANSITION = {
  cancel: 'order.cancelled',
  markPaid: 'order.paid',
  ship: 'order.shipped',
  deliver: 'order.delivered',
  refund: 'order.refunded',
} as const satisfies Record<OrderTransitionName, string>;

/** The domain event of a transition, for the order's customer and seller (src/scope/events.ts). */
export function orderEvent(name: OrderTransitionName, order: OrderRow, reason: OrderCancelReason): RecordedEvent {
  const audience = [order.customer_id, order.seller_id];
  const type = EVENT_OF_TRANSITION[name];
  return type === 'order.cancelled' ? { type, data: { orderId: order.id, reason }, audience } : { type, data: { orderId: order.id }, audience };
}
