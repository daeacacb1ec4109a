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
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../src/db/database.js';
import type { CategoryRow } from '../../src/modules/categories/category.table.js';
import type { OrderRow, OrderStatus } from '../../src/modules/orders/order.table.js';
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

    /**
     * An order as checkout would have written it (without touching stock):
     * one seller, the items' snapshots taken from the products, and the
     * units counted as sold on the products unless the order is cancelled
     * or refunded.
     */
    async order(values: { customer: UserRow; items: Array<{ product: ProductRow; quantity?: number }>; status?: OrderStatus; createdAt?: Date }): Promise<OrderRow> {
      const first = values.items[0];
      if (!first) throw new Error('seed.order needs at least one item');
      const status = values.status ?? 'PENDING_PAYMENT';
      const at = values.createdAt ?? new Date();
      const reached = (s: OrderStatus[]) => (s.includes(status) ? at : null);
      const order = await db
        .insertInto('orders')
        .values({
          customer_id: values.customer.id,
          seller_id: first.product.seller_id,
          status,
          currency: first.product.currency,
          total_amount: values.items.reduce((sum, item) => sum + item.product.price_amount * (item.quantity ?? 1), 0),
          created_at: at,
          updated_at: at,
          paid_at: reached(['PAID', 'SHIPPED', 'DELIVERED', 'REFUNDED']),
          shipped_at: reached(['SHIPPED', 'DELIVERED']),
          delivered_at: reached(['DELIVERED']),
          cancelled_at: reached(['CANCELLED']),
          refunded_at: reached(['REFUNDED']),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await db
        .insertInto('order_items')
        .values(
          values.items.map((item) => ({
            order_id: order.id,
            product_id: item.product.id,
            product_title: item.product.title,
            quantity: item.quantity ?? 1,
            unit_price_amount: item.product.price_amount,
            currency: item.product.currency,
          })),
        )
        .execute();
      if (status !== 'CANCELLED' && status !== 'REFUNDED') {
        for (const item of values.items) {
          await db
            .updateTable('products')
            .set({ sold_count: sql<number>`sold_count + ${item.quantity ?? 1}` })
            .where('id', '=', item.product.id)
            .execute();
        }
      }
      return order;
    },

    /**
     * An order of one unit of `product` by `customer`, DELIVERED unless told
     * otherwise: what makes the customer eligible to review the product.
     */
    async purchase(values: { customer: UserRow; product: ProductRow; status?: OrderStatus }): Promise<OrderRow> {
      return seed.order({ customer: values.customer, items: [{ product: values.product }], status: values.status ?? 'DELIVERED' });
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
