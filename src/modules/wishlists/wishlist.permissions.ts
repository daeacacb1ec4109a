import { allow, and } from '../../authz/shield-lib.js';

import { isPersonalSession, isSelf } from '../../authz/rules.js';

const payload = { product: allow, userErrors: allow };

/** The person's own list, in person: API keys never read or change it (no scope grants it). */
export const wishlistPermissions = {
  Mutation: {
    addToWishlist: isPersonalSession,
    removeFromWishlist: isPersonalSession,
  },
  User: {
    wishlist: and(isSelf, isPersonalSession),
  },
  Product: {
    // Answers for the viewer only; anonymous callers and API keys get false.
    viewerHasWishlisted: allow,
  },
  AddToWishlistPayload: payload,
  RemoveFromWishlistPayload: payload,
};
