import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfTypeOrNull } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import type { WishlistLoaders } from './wishlist.loaders.js';
import { addToWishlist, hasWishlisted, listWishlist, removeFromWishlist } from './wishlist.service.js';

const productId = (id: string) => idOfTypeOrNull(id, 'Product', 'input.productId');

export const wishlistResolvers: Resolvers<Scope<WishlistLoaders & ProductLoaders>> = {
  Mutation: {
    addToWishlist: (_root, { input }, ctx) => addToWishlist(ctx, { productId: productId(input.productId) }),
    removeFromWishlist: (_root, { input }, ctx) => removeFromWishlist(ctx, { productId: productId(input.productId) }),
  },
  User: {
    wishlist: (user, args, ctx) => listWishlist(ctx, user.id, args),
  },
  Product: {
    viewerHasWishlisted: (product, _args, ctx) => hasWishlisted(ctx, product),
  },
};
