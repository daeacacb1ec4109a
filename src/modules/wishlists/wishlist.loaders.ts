import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { LoaderFamily } from '../../loaders/batch.js';
import { findWishlisted } from './wishlist.repository.js';

export type WishlistLoaders = ReturnType<typeof createWishlistLoaders>;

export function createWishlistLoaders(db: Kysely<Database>) {
  return {
    /** Whether the user (the argument) saved each product (the key): one statement per page of products. */
    wishlistedByUser: new LoaderFamily<string, boolean, string>(
      (userId) => userId,
      async (productIds, userId) => {
        const saved = new Set(await findWishlisted(db, userId, productIds));
        return productIds.map((id) => saved.has(id));
      },
    ),
  };
}
