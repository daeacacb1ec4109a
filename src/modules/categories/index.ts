export { categoryResolvers as resolvers } from './category.resolvers.js';
export { createCategoryLoaders as createLoaders } from './category.loaders.js';
