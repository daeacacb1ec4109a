import { defineModule } from '../module.js';
import type { OrderItemTable, OrderTable } from './order.table.js';

export interface OrderTables {
  orders: OrderTable;
  order_items: OrderItemTable;
}

/** Orders have tables only so far (the seed and review eligibility read them); no API yet. */
export const ordersModule = defineModule({
  name: 'orders',
  schema: [],
  resolvers: {},
  permissions: {},
  createLoaders: () => ({}),
  nodeTypes: {},
});
