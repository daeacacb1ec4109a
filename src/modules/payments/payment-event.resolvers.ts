import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import type { Scope } from '../../scope/scope.js';
import type { OrderLoaders } from '../orders/order.loaders.js';
import { getOrder } from '../orders/order.service.js';
import { listPaymentEvents } from './payment-event.service.js';

type PaymentScope = Scope<OrderLoaders>;

export const paymentResolvers: Resolvers<PaymentScope> = {
  Query: {
    paymentEvents: (_root, args, ctx) => listPaymentEvents(ctx, args),
  },
  PaymentEvent: {
    webhookId: (event) => event.webhook_id,
    paymentId: (event) => event.payment_id,
    orderReference: (event) => event.order_ref,
    // Through the order loader (one statement for a page), with the order's own visibility.
    order: (event, _args, ctx) => (event.order_id === null ? null : getOrder(ctx, event.order_id)),
    amount: (event) => (event.amount === null ? null : Number(event.amount)),
    occurredAt: (event) => event.occurred_at,
    receivedAt: (event) => event.received_at,
  },
  PaymentEventConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
