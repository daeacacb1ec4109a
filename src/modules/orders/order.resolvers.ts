import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import { CONNECTION_ITEMS, OWN_OBJECT, selectedJoins, selectsField } from '../../graphql/selection.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { getUser } from '../users/user.service.js';
import { checkout } from './checkout.service.js';
import type { OrderLoaders } from './order.loaders.js';
import { ORDER_ITEM_RELATIONS, ORDER_RELATIONS } from './order.table.js';
import { orderSubscriptions } from './order.subscriptions.js';
import { getOrder, getOrderItemProduct, getOrderItems, listOrdersOf, transitionOrder, type OrderTransitionName } from './order.service.js';

type OrderScope = Scope<OrderLoaders & ProductLoaders & UserLoaders>;

const transition =
  (name: OrderTransitionName) =>
  (_root: unknown, { input }: { input: { orderId: string; expectedVersion: number } }, ctx: OrderScope) =>
    transitionOrder(ctx, name, { orderId: idOfTypeOrNull(input.orderId, 'Order', 'input.orderId'), expectedVersion: input.expectedVersion });

export const orderResolvers: Resolvers<OrderScope> = {
  Query: {
    order: (_root, { id }, ctx) => getOrder(ctx, idOfType(id, 'Order')),
  },
  User: {
    orders: (user, args, ctx, info) =>
      listOrdersOf(ctx, user.id, 'customer', args, selectedJoins(info, CONNECTION_ITEMS, ORDER_RELATIONS), selectsField(info, 'totalCount')),
    sales: (user, args, ctx, info) =>
      listOrdersOf(ctx, user.id, 'seller', args, selectedJoins(info, CONNECTION_ITEMS, ORDER_RELATIONS), selectsField(info, 'totalCount')),
  },
  Subscription: orderSubscriptions,
  Mutation: {
    checkout: (_root, { input }, ctx) =>
      checkout(ctx, {
        items: input.items.map((item, index) => ({
          productId: idOfTypeOrNull(item.productId, 'Product', `input.items.${index}.productId`),
          quantity: item.quantity,
        })),
      }),
    cancelOrder: transition('cancel'),
    markOrderPaid: transition('markPaid'),
    shipOrder: transition('ship'),
    deliverOrder: transition('deliver'),
    refundOrder: transition('refund'),
  },
  Order: {
    id: (order) => toGlobalId('Order', order.id),
    customer: (order, _args, ctx) => getUser(ctx, order.customer_id),
    seller: (order, _args, ctx) => getUser(ctx, order.seller_id),
    items: (order, _args, ctx, info) => getOrderItems(ctx, order, selectedJoins(info, OWN_OBJECT, ORDER_ITEM_RELATIONS)),
    total: (order) => ({ amount: Number(order.total_amount), currency: order.currency }),
    createdAt: (order) => order.created_at,
    updatedAt: (order) => order.updated_at,
    paidAt: (order) => order.paid_at,
    shippedAt: (order) => order.shipped_at,
    deliveredAt: (order) => order.delivered_at,
    cancelledAt: (order) => order.cancelled_at,
    refundedAt: (order) => order.refunded_at,
  },
  OrderItem: {
    product: (item, _args, ctx) => getOrderItemProduct(ctx, item),
    title: (item) => item.product_title,
    unitPrice: (item) => ({ amount: item.unit_price_amount, currency: item.currency }),
    subtotal: (item) => ({ amount: item.unit_price_amount * item.quantity, currency: item.currency }),
  },
  OrderConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
