import { allow, and } from '../../authz/shield-lib.js';

import { canReadOrders, canReadSales, canWriteOrders, isAdmin, isSelf } from '../../authz/rules.js';

const payload = { order: allow, userErrors: allow };

/**
 * Which orders a caller sees or changes is decided in the service (customer,
 * seller, admin in person; anyone else gets the answer of a missing id), so
 * the fields of an order a caller was handed are open.
 */
export const orderPermissions = {
  Query: {
    order: canReadOrders,
  },
  User: {
    orders: and(isSelf, canReadOrders),
    sales: and(isSelf, canReadOrders),
  },
  // Which orders reach a subscriber is the service's call, event by event (as for Query.order).
  Subscription: {
    orderUpdated: canReadOrders,
    myOrderUpdates: canReadOrders,
    mySales: canReadSales,
  },
  Mutation: {
    checkout: canWriteOrders,
    cancelOrder: canWriteOrders,
    // isAdmin refuses API keys: money moves only by an admin in person.
    markOrderPaid: isAdmin,
    shipOrder: canWriteOrders,
    deliverOrder: canWriteOrders,
    refundOrder: isAdmin,
  },
  CheckoutPayload: { orders: allow, userErrors: allow },
  CancelOrderPayload: payload,
  MarkOrderPaidPayload: payload,
  ShipOrderPayload: payload,
  DeliverOrderPayload: payload,
  RefundOrderPayload: payload,
  Order: {
    id: allow,
    status: allow,
    customer: allow,
    seller: allow,
    items: allow,
    total: allow,
    version: allow,
    createdAt: allow,
    updatedAt: allow,
    paidAt: allow,
    shippedAt: allow,
    deliveredAt: allow,
    cancelledAt: allow,
    refundedAt: allow,
  },
  OrderItem: { product: allow, title: allow, quantity: allow, unitPrice: allow, subtotal: allow },
  OrderConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  OrderEdge: { cursor: allow, node: allow },
};
