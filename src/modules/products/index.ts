import * as m0003 from '../../../migrations/2026_11_24_0003_products.js';
import * as m0016 from '../../../migrations/2026_12_08_0016_products_sold_count.js';
import * as m0017 from '../../../migrations/2026_12_08_0017_products_sold_count_not_null.js';
import { objectTag, setTag } from '../../cache/tag-names.js';
import { defineModule } from '../module.js';
import { createProductLoaders } from './product.loaders.js';
import { productPermissions } from './product.permissions.js';
import { productResolvers } from './product.resolvers.js';
import { getProduct } from './product.service.js';
import { backfillSoldCountTask, soldCountTransition } from './sold-count.service.js';

declare module '../../scope/change-feed.js' {
  interface ChangeKinds {
    /** Any column of the product, including stock, price, status, rating and soft deletion. */
    product: { id: string };
  }
}

// Audience: the product's seller.
declare module '../../scope/event-types.js' {
  interface DomainEventTypes {
    /** Its stock reached 0 (a checkout took the last units, or its seller set it to 0). */
    'product.out_of_stock': { productId: string };
  }
}

declare module '../audit/audit.service.js' {
  interface AuditActions {
    PRODUCT_DELETED: true;
    PRODUCT_RESTORED: true;
  }
}

export const productsModule = defineModule({
  name: 'products',
  schema: ['products.graphql', 'categories.products.graphql'],
  resolvers: productResolvers,
  permissions: productPermissions,
  createLoaders: createProductLoaders,
  nodeTypes: { Product: getProduct },
  tables: ['products'],
  migrations: {
    '2026_11_24_0003_products': m0003,
    '2026_12_08_0016_products_sold_count': m0016,
    '2026_12_08_0017_products_sold_count_not_null': m0017,
  },
  changeTags: {
    product: (change) => [objectTag('Product', change.id), setTag('Product')],
  },
  tasks: { 'products.backfillSoldCount': backfillSoldCountTask },
  transitions: [soldCountTransition],
});
