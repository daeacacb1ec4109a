import { defineModule } from '../module.js';
import { createCategoryLoaders } from './category.loaders.js';
import { categoryPermissions } from './category.permissions.js';
import { categoryResolvers } from './category.resolvers.js';
import { getCategory } from './category.service.js';

export const categoriesModule = defineModule({
  name: 'categories',
  schema: ['categories.graphql'],
  resolvers: categoryResolvers,
  permissions: categoryPermissions,
  createLoaders: createCategoryLoaders,
  nodeTypes: { Category: getCategory },
});
