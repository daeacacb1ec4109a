export { userResolvers as resolvers } from './user.resolvers.js';
export { createUserLoaders as createLoaders } from './user.loaders.js';
