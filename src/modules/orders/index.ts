import { defineModule } from '../module.js';
import { createOrderLoaders } from './order.loaders.js';
import { orderPermissions } from './order.permissions.js';
import { orderResolvers } from './order.resolvers.js';
import { getOrder } from './order.service.js';

export const ordersModule = defineModule({
  name: 'orders',
  schema: ['orders.graphql', 'users.orders.graphql'],
  resolvers: orderResolvers,
  permissions: orderPermissions,
  createLoaders: createOrderLoaders,
  nodeTypes: { Order: getOrder },
});
