/**
 * Test data builders: each call inserts one row with sensible defaults and
 * returns it, so a test states only what matters to it.
 *
 * @example
 *   const seed = seeder(server.db);
 *   const seller = await seed.user({ role: 'SELLER' });
 *   const product = await seed.product({ seller, price: 1999 });
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

import type { Database } from '../../src/db/database.js';
import type { CategoryRow } from '../../src/modules/categories/category.table.js';
import type { ProductRow, ProductStatus } from '../../src/modules/products/product.table.js';
import type { ReviewRow } from '../../src/modules/reviews/review.table.js';
import type { UserRole, UserRow } from '../../src/modules/users/user.table.js';
import { toGlobalId, type NodeType } from '../../src/graphql/global-id.js';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter += 1).toString(36)}`;

export interface ProductSeed {
  seller?: UserRow;
  category?: CategoryRow;
  title?: string;
  description?: string;
  price?: number;
  currency?: string;
  stock?: number;
  status?: ProductStatus;
  createdAt?: Date;
  deleted?: boolean;
}

export function seeder(db: Kysely<Database>) {
  const seed = {
    async user(values: { role?: UserRole; displayName?: string; email?: string; deleted?: boolean } = {}): Promise<UserRow> {
      const id = unique();
      return db
        .insertInto('users')
        .values({
          email: values.email ?? `user-${id}@example.test`,
          display_name: values.displayName ?? `User ${id}`,
          role: values.role ?? 'CUSTOMER',
          deleted_at: values.deleted ? new Date() : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    async category(values: { name?: string; slug?: string } = {}): Promise<CategoryRow> {
      const id = unique();
      return db
        .insertInto('categories')
        .values({ name: values.name ?? `Category ${id}`, slug: values.slug ?? `category-${id}` })
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    async product(values: ProductSeed = {}): Promise<ProductRow> {
      const seller = values.seller ?? (await seed.user({ role: 'SELLER' }));
      const category = values.category ?? (await seed.category());
      const row = await db
        .insertInto('products')
        .values({
          seller_id: seller.id,
          category_id: category.id,
          title: values.title ?? `Product ${unique()}`,
          description: values.description ?? 'A product made for tests.',
          price_amount: values.price ?? 1000,
          currency: values.currency ?? 'EUR',
          stock: values.stock ?? 10,
          status: values.status ?? 'ACTIVE',
          ...(values.createdAt ? { created_at: values.createdAt, updated_at: values.createdAt } : {}),
          deleted_at: values.deleted ? new Date() : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      // Read back through the same columns the API reads (the trigger-maintained ones included).
      return db
        .selectFrom('products')
        .select([
          'id', 'seller_id', 'category_id', 'title', 'description', 'price_amount', 'currency', 'stock', 'status',
          'version', 'rating_avg', 'review_count', 'created_at', 'updated_at', 'deleted_at',
        ])
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
    },

    async review(values: { product: ProductRow; author?: UserRow; rating?: number; body?: string; createdAt?: Date; deleted?: boolean }): Promise<ReviewRow> {
      const author = values.author ?? (await seed.user());
      return db
        .insertInto('reviews')
        .values({
          product_id: values.product.id,
          author_id: author.id,
          rating: values.rating ?? 4,
          body: values.body ?? 'Works as described.',
          ...(values.createdAt ? { created_at: values.createdAt, updated_at: values.createdAt } : {}),
          deleted_at: values.deleted ? new Date() : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },
  };
  return seed;
}

/** The global id the API shows for a row. */
export function gid(type: NodeType, row: { id: string }): string {
  return toGlobalId(type, row.id);
}

/** A well-formed id of an object that does not exist. */
export function missingId(type: NodeType): string {
  return toGlobalId(type, randomUUID());
}
