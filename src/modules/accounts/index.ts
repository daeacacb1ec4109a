export { accountResolvers as resolvers } from './account.resolvers.js';
export { createAccountLoaders as createLoaders } from './account.loaders.js';
