import type { Viewer } from '../../auth/viewer.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { recordChanges } from '../../scope/changes.js';
import { recordEvent } from '../../scope/events.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import { isProductVisible } from '../products/product.service.js';
import { lockProductsForSale, takeStock } from '../products/stock.service.js';
import type { ProductRow } from '../products/product.table.js';
import type { OrderLoaders } from './order.loaders.js';
import { insertOrdersWithItems } from './order.repository.js';
import type { OrderRow } from './order.table.js';

/** `maxOrderTotal`: totals are GraphQL `Int`s (32-bit) in minor units. */
export const CHECKOUT_LIMITS = { maxLines: 50, minQuantity: 1, maxQuantity: 100, maxOrderTotal: 2_147_483_647 } as const;

export interface CheckoutLineInput {
  /** Raw id, or `null` for an id of another type (answered NOT_FOUND). */
  productId: string | null;
  quantity: number;
}

export interface CheckoutInput {
  items: readonly CheckoutLineInput[];
}

export interface CheckoutResult {
  orders: OrderRow[] | null;
  userErrors: UserErrorData[];
}

interface Line {
  index: number;
  product: ProductRow;
  quantity: number;
}

const linePath = (index: number, field: 'productId' | 'quantity') => ['input', 'items', String(index), field];

/**
 * What can be said about the cart without the database: size, quantities,
 * duplicates, ids of another type. Returns the indexes of the lines worth
 * looking up (first occurrences of a product id).
 */
function checkCart(check: InputCheck, items: readonly CheckoutLineInput[]): number[] {
  if (items.length === 0) check.errors.add(['input', 'items'], 'REQUIRED', 'Add at least one item to the cart.');
  if (items.length > CHECKOUT_LIMITS.maxLines) {
    check.errors.add(['input', 'items'], 'TOO_LONG', `A cart holds at most ${CHECKOUT_LIMITS.maxLines} lines; split the purchase.`);
  }
  const seen = new Set<string>();
  const lookups: number[] = [];
  items.forEach((line, index) => {
    if (line.productId === null) {
      check.errors.add(linePath(index, 'productId'), 'NOT_FOUND', 'No such product.');
    } else if (seen.has(line.productId)) {
      check.errors.add(linePath(index, 'productId'), 'INVALID', 'This product is already in the cart: put the whole quantity on one line.');
    } else {
      seen.add(line.productId);
      lookups.push(index);
    }
    check.integer(linePath(index, 'quantity'), line.quantity, {
      required: true,
      min: CHECKOUT_LIMITS.minQuantity,
      max: CHECKOUT_LIMITS.maxQuantity,
      label: 'quantity',
    });
  });
  return lookups;
}

/** Checks the looked-up lines against their locked rows; returns the lines that can be bought. */
function checkLines(check: InputCheck, viewer: Viewer, items: readonly CheckoutLineInput[], lookups: readonly number[], rows: ReadonlyMap<string, ProductRow>): Line[] {
  const lines: Line[] = [];
  for (const index of lookups) {
    const item = items[index];
    const product = item?.productId ? rows.get(item.productId) : undefined;
    if (!item || !product || !isProductVisible(viewer, product)) {
      check.errors.add(linePath(index, 'productId'), 'NOT_FOUND', 'No such product.');
      continue;
    }
    if (product.status !== 'ACTIVE') {
      check.errors.add(linePath(index, 'productId'), 'INVALID', `This product is ${product.status} and not for sale.`);
      continue;
    }
    if (product.seller_id === viewer.userId) {
      check.errors.add(linePath(index, 'productId'), 'INVALID', 'You cannot buy your own product.');
      continue;
    }
    const quantityOk = !check.errors.has(linePath(index, 'quantity'));
    if (quantityOk && product.stock < item.quantity) {
      const message = product.stock === 0 ? 'This product is sold out.' : `Only ${product.stock} left in stock.`;
      check.errors.add(linePath(index, 'quantity'), 'OUT_OF_STOCK', message, { availableQuantity: product.stock });
      continue;
    }
    if (quantityOk) lines.push({ index, product, quantity: item.quantity });
  }
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.product.seller_id, (totals.get(line.product.seller_id) ?? 0) + line.product.price_amount * line.quantity);
  if ([...totals.values()].some((total) => total > CHECKOUT_LIMITS.maxOrderTotal)) {
    check.errors.add(['input', 'items'], 'OUT_OF_RANGE', `One seller's items may total at most ${CHECKOUT_LIMITS.maxOrderTotal} minor units; split the purchase.`);
  }
  // One currency per cart, so every order (and any total a client adds up) is in one currency.
  const currency = lines[0]?.product.currency;
  for (const line of lines) {
    if (line.product.currency !== currency) {
      check.errors.add(
        linePath(line.index, 'productId'),
        'INVALID',
        `This product is priced in ${line.product.currency} and the cart in ${currency ?? '?'}: check out each currency separately.`,
      );
    }
  }
  return lines;
}

/** Problems sorted by line, so a client can walk them next to its cart. */
function byPath(errors: readonly UserErrorData[]): UserErrorData[] {
  const key = (error: UserErrorData) => (error.field ?? []).map((part) => (/^\d+$/.test(part) ? part.padStart(4, '0') : part)).join('/');
  return [...errors].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * Buys a cart in one unit of work. The cart's products are locked in id
 * order (so concurrent checkouts queue instead of deadlocking), every line
 * is checked on the locked rows and every problem reported at once; only a
 * clean cart writes: stock is taken (conditionally, `stock >= quantity`),
 * one order per seller is inserted with its exact total in minor units, and
 * the items snapshot title and unit price. Any failure rolls all of it back.
 */
export async function checkout(scope: Scope<OrderLoaders & ProductLoaders>, input: CheckoutInput): Promise<CheckoutResult> {
  const viewer = scope.viewer;
  if (!viewer) throw appError('UNAUTHENTICATED', 'Sign in to do this.');
  const items = input.items;
  const check = new InputCheck();
  const lookups = checkCart(check, items);
  // An oversized cart is not looked up at all: its size is the problem to fix first.
  if (items.length === 0 || items.length > CHECKOUT_LIMITS.maxLines) return { orders: null, userErrors: check.errors.list };

  return unitOfWork(
    scope,
    async (unit): Promise<CheckoutResult> => {
      const ids = lookups.map((index) => items[index]?.productId).filter((id): id is string => typeof id === 'string');
      const locked = await lockProductsForSale(unit, ids);
      const lines = checkLines(check, viewer, items, lookups, new Map(locked.map((row) => [row.id, row])));
      if (!check.ok) return { orders: null, userErrors: byPath(check.errors.list) };

      await takeStock(unit, lines.map((line) => ({ productId: line.product.id, quantity: line.quantity })));

      // Sellers in the order of their first line; each order's total is exact (at most 50 x 100 x 99 999 999 < 2^53).
      const bySeller = new Map<string, Line[]>();
      for (const line of lines) {
        const group = bySeller.get(line.product.seller_id);
        if (group) group.push(line);
        else bySeller.set(line.product.seller_id, [line]);
      }
      const inserted = await insertOrdersWithItems(
        unit.db,
        [...bySeller].map(([sellerId, group]) => ({
          order: {
            customer_id: viewer.userId,
            seller_id: sellerId,
            status: 'PENDING_PAYMENT' as const,
            currency: group[0]?.product.currency ?? '',
            total_amount: group.reduce((sum, line) => sum + line.product.price_amount * line.quantity, 0),
          },
          items: group.map((line) => ({
            product_id: line.product.id,
            product_title: line.product.title,
            quantity: line.quantity,
            unit_price_amount: line.product.price_amount,
            currency: line.product.currency,
          })),
        })),
      );
      const orders = inserted.map((entry) => entry.order);
      // The payload reads the new orders and their lines through the loaders: primed here, no statement reads them again.
      for (const { order, items: lineRows } of inserted) {
        unit.loaders.orderById.prime(order.id, order);
        unit.loaders.orderItemsByOrderId.prime(order.id, lineRows);
      }
      await recordChanges(unit, ...orders.map((order) => ({ entity: 'order' as const, id: order.id, customerId: order.customer_id, sellerId: order.seller_id })));
      await recordEvent(unit, ...orders.map((order) => ({ type: 'order.created' as const, data: { orderId: order.id }, audience: [order.customer_id, order.seller_id] })));
      return { orders, userErrors: [] };
    },
    { rerunnable: true },
  );
}
