import { defineModule } from '../module.js';

/** Orders have tables only so far (the seed and review eligibility read them); no API yet. */
export const ordersModule = defineModule({
  name: 'orders',
  schema: [],
  resolvers: {},
  permissions: {},
  createLoaders: () => ({}),
  nodeTypes: {},
});
