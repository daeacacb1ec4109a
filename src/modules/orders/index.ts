import * as m0004 from '../../../migrations/2026_11_24_0004_orders.js';
import { objectTag, setTag } from '../../cache/tag-names.js';
import { defineModule } from '../module.js';
import { createOrderLoaders } from './order.loaders.js';
import { orderPermissions } from './order.permissions.js';
import { orderResolvers } from './order.resolvers.js';
import { expirePaymentsJob, expirePaymentsSchedule } from './order-expiry.service.js';
import { getOrder } from './order.service.js';
import type { OrderCancelReason } from './order.table.js';

declare module '../../scope/change-feed.js' {
  interface ChangeKinds {
    /**
     * The parties' ids let live updates keep only the subscribers an order
     * change concerns before reading it for each (absent: every subscriber
     * of a list reads it again).
     */
    order: { id: string; customerId?: string; sellerId?: string };
  }
}

// Audience of every order event: the order's customer and its seller.
declare module '../../scope/event-types.js' {
  interface DomainEventTypes {
    'order.created': { orderId: string };
    'order.paid': { orderId: string };
    'order.cancelled': { orderId: string; reason: OrderCancelReason };
    'order.shipped': { orderId: string };
    'order.delivered': { orderId: string };
    'order.refunded': { orderId: string };
  }
}

declare module '../audit/audit.service.js' {
  interface AuditActions {
    ORDER_PAID: true;
    ORDER_CANCELLED: true;
    ORDER_REFUNDED: true;
  }
}

export const ordersModule = defineModule({
  name: 'orders',
  schema: ['orders.graphql', 'users.orders.graphql'],
  resolvers: orderResolvers,
  permissions: orderPermissions,
  createLoaders: createOrderLoaders,
  nodeTypes: { Order: getOrder },
  tables: ['orders', 'order_items'],
  migrations: { '2026_11_24_0004_orders': m0004 },
  changeTags: {
    // No anonymous response shows an order (at most a `null` where one was
    // asked for); the stock an order takes or gives back is announced as
    // product changes.
    order: (change) => [objectTag('Order', change.id), setTag('Order')],
  },
  // Money and stock move: a retry must not run them twice.
  keyRequiredMutations: ['checkout', 'markOrderPaid', 'refundOrder'],
  tasks: { 'orders.expirePayments': expirePaymentsJob },
  // Every minute, with the TTL of the configuration (ORDER_PAYMENT_TTL_MINUTES) in the job's payload.
  schedules: (config) => [expirePaymentsSchedule(config.payments.orderPaymentTtlMinutes)],
});
