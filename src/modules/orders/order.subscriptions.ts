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
  // A change that names its parties reaches only theirs; each event still reads the order as the subscriber may see it.
  myOrderUpdates: {
    subscribe: (_root, _args, ctx) => {
      const userId = ctx.viewer?.userId;
      return liveField(ctx, 'myOrderUpdates', 'order', (change) => change.customerId === undefined || change.customerId === userId, (scope, change) => getOrderAsParty(scope, change.id, 'customer'));
    },
  },
  mySales: {
    subscribe: (_root, _args, ctx) => {
      const userId = ctx.viewer?.userId;
      return liveField(ctx, 'mySales', 'order', (change) => change.sellerId === undefined || change.sellerId === userId, (scope, change) => getOrderAsParty(scope, change.id, 'seller'));
    },
  },
};
