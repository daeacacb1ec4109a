import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

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

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    orders: OrderTable;
    order_items: OrderItemTable;
  }
}

/** Who or what ended an unpaid order (the `order.cancelled` event's reason). */
export type OrderCancelReason = 'CUSTOMER' | 'SELLER' | 'ADMIN' | 'PAYMENT_EXPIRED' | 'PAYMENT_FAILED';
