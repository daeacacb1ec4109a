import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { JoinableRelations } from '../../db/joined.js';
import { PRODUCT_RELATIONS, PRODUCT_TARGET } from '../products/product.table.js';
import { USER_TARGET } from '../users/user.table.js';

export type OrderStatus = 'PENDING_PAYMENT' | 'PAID' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED' | 'REFUNDED';

export interface OrderTable {
  id: Generated<string>;
  customer_id: string;
  seller_id: string;
  status: ColumnType<OrderStatus, OrderStatus | undefined, OrderStatus>;
  currency: string;
  /** bigint: pg returns it as a string. */
  total_amount: ColumnType<string, string | number | bigint, string | number | bigint>;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  paid_at: Date | null;
  shipped_at: Date | null;
  delivered_at: Date | null;
  cancelled_at: Date | null;
  refunded_at: Date | null;
}

export interface OrderItemTable {
  id: Generated<string>;
  order_id: string;
  product_id: string;
  product_title: string;
  quantity: number;
  unit_price_amount: number;
  currency: string;
}

export type OrderRow = Selectable<OrderTable>;
export type NewOrderRow = Insertable<OrderTable>;
export type OrderUpdate = Updateable<OrderTable>;
export type OrderItemRow = Selectable<OrderItemTable>;
export type NewOrderItemRow = Insertable<OrderItemTable>;

/** An order's one-to-one relations, read by a join with a page of orders when selected. */
export const ORDER_RELATIONS: JoinableRelations = {
  customer: { foreignKey: 'customer_id', target: USER_TARGET },
  seller: { foreignKey: 'seller_id', target: USER_TARGET },
};
/** An order item's product (and that product's own relations), read by a join with the items when selected. */
export const ORDER_ITEM_RELATIONS: JoinableRelations = {
  product: { foreignKey: 'product_id', target: PRODUCT_TARGET, relations: () => PRODUCT_RELATIONS },
};

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    orders: OrderTable;
    order_items: OrderItemTable;
  }
}

/** Who or what ended an unpaid order (the `order.cancelled` event's reason). */
export type OrderCancelReason = 'CUSTOMER' | 'SELLER' | 'ADMIN' | 'PAYMENT_EXPIRED' | 'PAYMENT_FAILED';
