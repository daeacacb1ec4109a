import type { SubscriptionResolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType } from '../../graphql/global-id.js';
import { appError } from '../../errors/errors.js';
import { liveField } from '../../scope/live.js';
import type { Scope } from '../../scope/scope.js';
import type { OrderLoaders } from './order.loaders.js';
import { getOrder, getOrderAsParty } from './order.service.js';

type OrderScope = Scope<OrderLoaders>;

/**
 * Live order updates. Each event reads the order again, in the subscriber's
 * scope of that moment, through the same services as `Query.order`: an order
 * they may not (or no longer) see is not sent.
 */
export const orderSubscriptions: SubscriptionResolvers<OrderScope> = {
  orderUpdated: {
    subscribe: async (_root, { id }, ctx) => {
      const orderId = idOfType(id, 'Order');
      // Refused before any stream opens, and alike for a missing order and someone else's.
      if (!(await getOrder(ctx, orderId))) throw appError('SUBSCRIPTION_NOT_FOUND');
      return liveField(ctx, 'orderUpdated', 'order', (change) => change.id === orderId, (scope) => getOrder(scope, orderId));
    },
  },
  myOrderUpdates: {
    subscribe: (_root, _args, ctx) =>
      liveField(ctx, 'myOrderUpdates', 'order', () => true, (scope, change) => getOrderAsParty(scope, change.id, 'customer')),
  },
  mySales: {
    subscribe: (_root, _args, ctx) =>
      liveField(ctx, 'mySales', 'order', () => true, (scope, change) => getOrderAsParty(scope, change.id, 'seller')),
  },
};
