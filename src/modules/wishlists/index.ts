import * as m0010 from '../../../migrations/2026_12_07_0010_wishlists.js';
import { defineModule } from '../module.js';
import { createWishlistLoaders } from './wishlist.loaders.js';
import { wishlistPermissions } from './wishlist.permissions.js';
import { wishlistResolvers } from './wishlist.resolvers.js';

/**
 * A signed-in person's saved products. No node type (a list is reached as
 * `viewer { wishlist }`), no change kind (the shared response cache holds
 * anonymous answers only, and no anonymous answer shows a wishlist: an
 * anonymous `viewerHasWishlisted` is always false), no audit action (saving a
 * product is not a security event), no Idempotency-Key (both mutations are
 * idempotent by nature).
 */
export const wishlistsModule = defineModule({
  name: 'wishlists',
  schema: ['wishlists.graphql'],
  resolvers: wishlistResolvers,
  permissions: wishlistPermissions,
  createLoaders: createWishlistLoaders,
  nodeTypes: {},
  tables: ['wishlist_items'],
  migrations: { '2026_12_07_0010_wishlists': m0010 },
  changeTags: {},
});
