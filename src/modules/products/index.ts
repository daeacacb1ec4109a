export { productResolvers as resolvers } from './product.resolvers.js';
export { createProductLoaders as createLoaders } from './product.loaders.js';
