/**
 * A sizeable, deterministic catalogue, written in a few multi-row INSERTs in
 * one transaction: categories, sellers, customers, products (mostly ACTIVE,
 * some DRAFT / ARCHIVED / soft-deleted, which the public catalogue must skip),
 * up to five reviews per product (the rating trigger keeps products'
 * rating_avg / review_count exact), and one customer with a password for the
 * signed-in scenario. Ends with VACUUM ANALYZE: statistics for the planner, a
 * visibility map for index-only scans, and no autovacuum of the fresh rows
 * kicking in during the measurements.
 */
import { sql, type Kysely } from 'kysely';

import { hashPassword } from '../../src/auth/passwords.js';
import { seededRandom } from '../../src/db/seed.js';
import type { Database } from '../../src/db/database.js';
import { inPlainTransaction } from '../../src/db/unit-of-work.js';
import type { NewProductRow, ProductStatus } from '../../src/modules/products/product.table.js';
import type { NewReviewRow } from '../../src/modules/reviews/review.table.js';
import type { NewUserRow } from '../../src/modules/users/user.table.js';

export interface SeedSizes {
  products: number;
  categories: number;
  sellers: number;
  customers: number;
  /** Reviews per product are 0 to this many (distinct authors, so at most `customers`). */
  maxReviewsPerProduct: number;
}

export interface SeedSummary {
  categories: number;
  sellers: number;
  customers: number;
  products: number;
  /** ACTIVE and not deleted: what anonymous callers page through. */
  visibleProducts: number;
  reviews: number;
  seconds: number;
  /** The account the signed-in scenario logs in with. */
  account: { email: string; password: string };
}

export const BENCH_ACCOUNT = { email: 'bench-customer@example.test', password: 'bench-password-2026' } as const;

/** Rows per INSERT: far below PostgreSQL's 65 535 bind parameters for any table here. */
const CHUNK = 2_000;


function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export async function seedCatalog(db: Kysely<Database>, sizes: SeedSizes): Promise<SeedSummary> {
  const started = Date.now();
  const rand = seededRandom(20_261_124);
  const passwordHash = await hashPassword(BENCH_ACCOUNT.password);
  const now = Date.now();
  const minutesAgo = (minutes: number) => new Date(now - Math.round(minutes * 60_000));

  const summary = await inPlainTransaction(db, async (trx) => {
    const categories = await trx
      .insertInto('categories')
      .values(Array.from({ length: sizes.categories }, (_, i) => ({ name: `Category ${pad(i + 1)}`, slug: `category-${pad(i + 1)}` })))
      .returning('id')
      .execute();

    const people: NewUserRow[] = [
      ...Array.from({ length: sizes.sellers }, (_, i): NewUserRow => ({
        email: `bench-seller-${pad(i + 1)}@example.test`,
        display_name: `Seller ${pad(i + 1)}`,
        role: 'SELLER',
        password_hash: null,
        deleted_at: null,
      })),
      ...Array.from({ length: sizes.customers }, (_, i): NewUserRow => ({
        email: `bench-customer-${pad(i + 1, 3)}@example.test`,
        display_name: `Customer ${pad(i + 1, 3)}`,
        role: 'CUSTOMER',
        password_hash: null,
        deleted_at: null,
      })),
      {
        email: BENCH_ACCOUNT.email,
        display_name: 'Bench Customer',
        role: 'CUSTOMER',
        password_hash: passwordHash,
        deleted_at: null,
      },
    ];
    const users = await trx.insertInto('users').values(people).returning(['id', 'role', 'email']).execute();
    const sellers = users.filter((u) => u.role === 'SELLER').map((u) => u.id);
    const customers = users.filter((u) => u.role === 'CUSTOMER' && u.email !== BENCH_ACCOUNT.email).map((u) => u.id);

    // Newest product first in the default order; one every ~3 minutes, with a
    // random sub-minute part so timestamps carry microseconds like real ones.
    const productRows: NewProductRow[] = [];
    for (let i = 0; i < sizes.products; i += 1) {
      const status: ProductStatus = i % 20 === 7 ? 'DRAFT' : i % 20 === 13 ? 'ARCHIVED' : 'ACTIVE';
      const created = minutesAgo((sizes.products - i) * 3 + rand());
      const title = `Product ${pad(i + 1, 5)}`;
      productRows.push({
        seller_id: sellers[i % sellers.length] as string,
        category_id: categories[(i * 7) % categories.length]?.id as string,
        title,
        description: `${title}: a benchmark product. Plain text, a couple of sentences long, like a short listing.`,
        price_amount: 199 + Math.floor(rand() * 500) * 100,
        currency: 'EUR',
        stock: i % 11 === 5 ? 0 : 1 + Math.floor(rand() * 50),
        status,
        created_at: created,
        updated_at: created,
        deleted_at: i % 25 === 3 ? minutesAgo(1) : null,
      });
    }
    const products: { id: string; created_at: Date }[] = [];
    for (const chunk of chunks(productRows)) {
      products.push(...(await trx.insertInto('products').values(chunk).returning(['id', 'created_at']).execute()));
    }

    const reviewRows: NewReviewRow[] = [];
    const perProductLimit = Math.min(sizes.maxReviewsPerProduct, customers.length);
    for (const product of products) {
      const count = Math.floor(rand() * (perProductLimit + 1));
      const firstAuthor = Math.floor(rand() * customers.length);
      for (let r = 0; r < count; r += 1) {
        const written = new Date(product.created_at.getTime() + Math.round((r + rand()) * 3_600_000));
        reviewRows.push({
          product_id: product.id,
          author_id: customers[(firstAuthor + r) % customers.length] as string,
          rating: 1 + Math.floor(rand() * 5),
          body: r % 2 === 0 ? 'Exactly as described, arrived quickly.' : 'Good value for the price; would buy again.',
          created_at: written,
          updated_at: written,
          deleted_at: null,
        });
      }
    }
    for (const chunk of chunks(reviewRows)) await trx.insertInto('reviews').values(chunk).execute();

    const visible = await trx
      .selectFrom('products')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'ACTIVE')
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return {
      categories: categories.length,
      sellers: sellers.length,
      customers: customers.length + 1,
      products: products.length,
      visibleProducts: Number(visible.n),
      reviews: reviewRows.length,
    };
  });
  await sql`VACUUM (ANALYZE)`.execute(db);
  return { ...summary, seconds: (Date.now() - started) / 1000, account: { ...BENCH_ACCOUNT } };
}
