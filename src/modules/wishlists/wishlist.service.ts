import { actsAsAdmin } from '../../auth/viewer.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from '../products/product.loaders.js';
import { getProduct } from '../products/product.service.js';
import type { ProductRow } from '../products/product.table.js';
import type { WishlistLoaders } from './wishlist.loaders.js';
import {
  countWishlist,
  countWishlistRows,
  deleteWishlistItem,
  findWishlistPage,
  findWishlisted,
  insertWishlistItem,
  lockWishlistOwner,
  type KeyedWishlistProductRow,
  type WishlistCriteria,
} from './wishlist.repository.js';

/**
 * A signed-in person's saved products. Only the person sees or changes their
 * own list (API keys never do: the permission layer refuses them); the list
 * shows the saved products the person may see now, so a product unpublished
 * or deleted after it was saved drops out of the list, and comes back if it
 * is published or restored again.
 */

/** How many products one list holds, hidden ones included. */
export const WISHLIST_MAX_ITEMS = 500;

type WishlistScope = Scope<WishlistLoaders & ProductLoaders>;

export interface WishlistResult {
  product: ProductRow | null;
  userErrors: UserErrorData[];
}

function ownerOf(scope: Scope) {
  // The permission layer refuses anonymous callers and API keys; this guards misuse of the service.
  const viewer = scope.viewer;
  if (!viewer || viewer.via === 'api_key') throw appError('UNAUTHENTICATED');
  return viewer;
}

const notFound = (): WishlistResult => ({
  product: null,
  userErrors: [{ field: ['input', 'productId'], code: 'NOT_FOUND', message: 'No such product.' }],
});

/** The user's list, newest saved first; `null` for anyone but the user in person. */
export async function listWishlist(scope: WishlistScope, userId: string, args: ConnectionArgs): Promise<Connection<KeyedWishlistProductRow> | null> {
  const viewer = scope.viewer;
  if (!viewer || viewer.userId !== userId || viewer.via === 'api_key') return null;
  const criteria: WishlistCriteria = { userId, admin: actsAsAdmin(viewer) };
  const request = parsePageRequest(args, { name: 'ADDED_AT', kind: 'timestamp', direction: 'DESC' });
  const rows = await findWishlistPage(scope.db, criteria, request);
  for (const row of rows) scope.loaders.productById.prime(row.id, row);
  return toConnection(rows, request, () => countWishlist(scope.db, criteria));
}

/** Whether the viewer saved the product; `false` for anonymous callers and API keys. */
export function hasWishlisted(scope: WishlistScope, product: ProductRow): Promise<boolean> | boolean {
  const viewer = scope.viewer;
  if (!viewer || viewer.via === 'api_key') return false;
  return scope.loaders.wishlistedByUser.load(product.id, viewer.userId);
}

/**
 * Saves a product the viewer can see (a hidden or missing one is NOT_FOUND).
 * Saving it again changes nothing and succeeds; a full list is OUT_OF_RANGE.
 */
export async function addToWishlist(scope: WishlistScope, input: { productId: string | null }): Promise<WishlistResult> {
  const viewer = ownerOf(scope);
  const productId = input.productId;
  if (!productId) return notFound();
  const product = await getProduct(scope, productId);
  if (!product) return notFound();
  return unitOfWork(
    scope,
    async (unit) => {
      await lockWishlistOwner(unit.db, viewer.userId);
      const [saved] = await findWishlisted(unit.db, viewer.userId, [product.id]);
      if (saved !== undefined) return { product, userErrors: [] };
      if ((await countWishlistRows(unit.db, viewer.userId)) >= WISHLIST_MAX_ITEMS) {
        const message = `A wishlist holds at most ${WISHLIST_MAX_ITEMS} products; remove one first.`;
        return { product: null, userErrors: [{ field: ['input', 'productId'], code: 'OUT_OF_RANGE', message }] };
      }
      await insertWishlistItem(unit.db, viewer.userId, product.id);
      return { product, userErrors: [] };
    },
    { rerunnable: true },
  );
}

/** Removes a product from the viewer's list; removing one that is not there succeeds too. `product` is `null` when the viewer cannot see it. */
export async function removeFromWishlist(scope: WishlistScope, input: { productId: string | null }): Promise<WishlistResult> {
  const viewer = ownerOf(scope);
  const productId = input.productId;
  if (!productId) return notFound();
  await unitOfWork(scope, (unit) => deleteWishlistItem(unit.db, viewer.userId, productId), { rerunnable: true });
  return { product: await getProduct(scope, productId), userErrors: [] };
}
