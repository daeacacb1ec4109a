import { defineModule } from '../module.js';
import { createProductLoaders } from './product.loaders.js';
import { productPermissions } from './product.permissions.js';
import { productResolvers } from './product.resolvers.js';
import { getProduct } from './product.service.js';

export const productsModule = defineModule({
  name: 'products',
  schema: ['products.graphql'],
  resolvers: productResolvers,
  permissions: productPermissions,
  createLoaders: createProductLoaders,
  nodeTypes: { Product: getProduct },
});
