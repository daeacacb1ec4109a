import { sql, type ExpressionBuilder, type Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, scanDirection, type KeysetColumns } from '../../pagination/keyset.js';
import type { ProductRow, ProductTable } from '../products/product.table.js';
import type { WishlistItemTable } from './wishlist.table.js';

/** Newest first, ties broken by product id (index on (user_id, added_at, product_id)). */
const COLUMNS: KeysetColumns = { key: 'w.added_at', id: 'w.product_id' };

/** Whose list, and which of its products the owner may see now (the rule of `product(id:)`). */
export interface WishlistCriteria {
  userId: string;
  /** Admins see every product that is not deleted; others ACTIVE ones and their own. */
  admin: boolean;
}

export type KeyedWishlistProductRow = ProductRow & { cursor_key: string };

type WishlistScope = Database & { w: WishlistItemTable; p: ProductTable };

function visibleTo(criteria: WishlistCriteria) {
  return (eb: ExpressionBuilder<WishlistScope, 'w' | 'p'>) =>
    eb.and([
      eb('w.user_id', '=', criteria.userId),
      eb('p.deleted_at', 'is', null),
      ...(criteria.admin ? [] : [eb.or([eb('p.status', '=', 'ACTIVE'), eb('p.seller_id', '=', criteria.userId)])]),
    ]);
}

/** One page of the visible saved products: `limit + 1` rows in scan order, each a whole product row. */
export async function findWishlistPage(db: Kysely<Database>, criteria: WishlistCriteria, request: PageRequest): Promise<KeyedWishlistProductRow[]> {
  const direction = scanDirection(request);
  return db
    .selectFrom('wishlist_items as w')
    .innerJoin('products as p', 'p.id', 'w.product_id')
    .selectAll('p')
    .select(cursorKey(COLUMNS).as('cursor_key'))
    .where(visibleTo(criteria))
    .where(keysetCondition(COLUMNS, request))
    .orderBy('w.added_at', direction)
    .orderBy('w.product_id', direction)
    .limit(request.limit + 1)
    .execute();
}

export async function countWishlist(db: Kysely<Database>, criteria: WishlistCriteria): Promise<number> {
  const row = await db
    .selectFrom('wishlist_items as w')
    .innerJoin('products as p', 'p.id', 'w.product_id')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(visibleTo(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Rows of every saved product of the user, hidden ones included (the size limit counts them). */
export async function countWishlistRows(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('wishlist_items')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Which of these products the user saved. */
export async function findWishlisted(db: Kysely<Database>, userId: string, productIds: readonly string[]): Promise<string[]> {
  if (productIds.length === 0) return [];
  const rows = await db
    .selectFrom('wishlist_items')
    .select('product_id')
    .where('user_id', '=', userId)
    .where('product_id', 'in', productIds)
    .execute();
  return rows.map((row) => row.product_id);
}

/** Saves a product; saving it again keeps the first `added_at`. Whether a row was added. */
export async function insertWishlistItem(db: Kysely<Database>, userId: string, productId: string): Promise<boolean> {
  const result = await db
    .insertInto('wishlist_items')
    .values({ user_id: userId, product_id: productId })
    .onConflict((oc) => oc.columns(['user_id', 'product_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Removes a saved product; whether there was one. */
export async function deleteWishlistItem(db: Kysely<Database>, userId: string, productId: string): Promise<boolean> {
  const result = await db.deleteFrom('wishlist_items').where('user_id', '=', userId).where('product_id', '=', productId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Serialises one user's additions (the size limit is checked, then a row added). */
export async function lockWishlistOwner(db: Kysely<Database>, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`wishlist:${userId}`}, 0))`.execute(db);
}
