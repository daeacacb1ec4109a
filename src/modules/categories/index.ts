import * as m0002 from '../../../migrations/2026_11_24_0002_categories.js';
import { objectTag, setTag } from '../../cache/tag-names.js';
import { defineModule } from '../module.js';
import { createCategoryLoaders } from './category.loaders.js';
import { categoryPermissions } from './category.permissions.js';
import { categoryResolvers } from './category.resolvers.js';
import { getCategory } from './category.service.js';

declare module '../../scope/change-feed.js' {
  interface ChangeKinds {
    category: { id: string };
  }
}

export const categoriesModule = defineModule({
  name: 'categories',
  schema: ['categories.graphql'],
  resolvers: categoryResolvers,
  permissions: categoryPermissions,
  createLoaders: createCategoryLoaders,
  nodeTypes: { Category: getCategory },
  tables: ['categories'],
  migrations: { '2026_11_24_0002_categories': m0002 },
  changeTags: {
    category: (change) => [objectTag('Category', change.id), setTag('Category')],
  },
});
