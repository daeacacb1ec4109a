/**
 * A sizeable, deterministic catalogue, written set-based: each table is one
 * `INSERT ... SELECT` over `generate_series` in one transaction, so 100,000
 * products and 300,000 reviews take seconds, not minutes. Categories,
 * sellers, customers, products (mostly ACTIVE, some DRAFT / ARCHIVED /
 * soft-deleted, which the public catalogue must skip), 0 to
 * `maxReviewsPerProduct` reviews per product by distinct customers, and one
 * customer with a password for the signed-in scenario.
 *
 * The "random" parts (prices, stock, ratings, review counts) come from
 * `hashint4extended(n, salt)`, PostgreSQL's own integer hash, so two runs on
 * the same server version produce the same catalogue. The review-rating
 * trigger is switched off while reviews are inserted (it would run a count per
 * review) and products' `rating_avg` / `review_count` are then computed in one
 * `UPDATE`, exactly as the trigger defines them. Ends with VACUUM ANALYZE:
 * statistics for the planner, a visibility map for index-only scans, and no
 * autovacuum of the fresh rows kicking in during the measurements.
 */
import { sql, type Kysely } from 'kysely';

import { hashPassword } from '../../src/auth/passwords.js';
import type { Database } from '../../src/db/database.js';
import { inPlainTransaction } from '../../src/db/unit-of-work.js';

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

/**
 * Sizes for `--scale`: scale 1 is about 100,000 products and 300,000 reviews
 * (0 to 6 per product, 3 on average) from 1,000 sellers and 5,000 customers
 * in 50 categories. Small scales keep enough sellers, customers and
 * categories for the catalogue to look like one.
 */
export function sizesForScale(scale: number): SeedSizes {
  if (!Number.isFinite(scale) || scale <= 0 || scale > 10) throw new Error(`--scale must be a number above 0 and at most 10 (got ${scale})`);
  return {
    products: Math.max(200, Math.round(100_000 * scale)),
    categories: 50,
    sellers: Math.max(20, Math.round(1_000 * scale)),
    customers: Math.max(50, Math.round(5_000 * scale)),
    maxReviewsPerProduct: 6,
  };
}

/** `--scale N` or `--scale=N` from the command line, if given. */
export function scaleFromArgs(argv: readonly string[]): number | undefined {
  const index = argv.findIndex((arg) => arg === '--scale' || arg.startsWith('--scale='));
  if (index < 0) return undefined;
  const arg = argv[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  const scale = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(scale)) throw new Error(`--scale needs a number (got "${raw ?? ''}")`);
  sizesForScale(scale);
  return scale;
}

/** A deterministic number in [0, 1) for ordinal `n` and a salt, computed by PostgreSQL. */
const unit = (n: ReturnType<typeof sql.raw>, salt: number) =>
  sql`((hashint4extended(${n}, ${sql.lit(salt)}) & 2147483647)::float8 / 2147483648.0)`;

export async function seedCatalog(db: Kysely<Database>, sizes: SeedSizes): Promise<SeedSummary> {
  const started = Date.now();
  if (sizes.customers < sizes.maxReviewsPerProduct) throw new Error('each product needs distinct review authors: customers >= maxReviewsPerProduct');
  const passwordHash = await hashPassword(BENCH_ACCOUNT.password);
  const width = String(sizes.products).length;

  const summary = await inPlainTransaction(db, async (trx) => {
    const run = (query: ReturnType<typeof sql>) => query.execute(trx);
    const i = sql.raw('g.i');

    await run(sql`
      INSERT INTO categories (name, slug)
      SELECT 'Category ' || lpad(g.i::text, 2, '0'), 'category-' || lpad(g.i::text, 2, '0')
        FROM generate_series(1, ${sizes.categories}) AS g(i)`);
    await run(sql`
      INSERT INTO users (email, display_name, role, password_hash)
      SELECT 'bench-seller-' || lpad(g.i::text, 5, '0') || '@example.test', 'Seller ' || lpad(g.i::text, 5, '0'), 'SELLER', NULL
        FROM generate_series(1, ${sizes.sellers}) AS g(i)`);
    await run(sql`
      INSERT INTO users (email, display_name, role, password_hash)
      SELECT 'bench-customer-' || lpad(g.i::text, 6, '0') || '@example.test', 'Customer ' || lpad(g.i::text, 6, '0'), 'CUSTOMER', NULL
        FROM generate_series(1, ${sizes.customers}) AS g(i)`);
    await trx
      .insertInto('users')
      .values({ email: BENCH_ACCOUNT.email, display_name: 'Bench Customer', role: 'CUSTOMER', password_hash: passwordHash, deleted_at: null })
      .execute();

    // Ordinal -> id maps for the set-based inserts below (the padded names sort in ordinal order).
    await run(sql`CREATE TEMPORARY TABLE seed_categories ON COMMIT DROP AS
      SELECT row_number() OVER (ORDER BY slug)::int AS n, id FROM categories`);
    await run(sql`CREATE TEMPORARY TABLE seed_sellers ON COMMIT DROP AS
      SELECT row_number() OVER (ORDER BY email)::int AS n, id FROM users WHERE email LIKE 'bench-seller-%'`);
    await run(sql`CREATE TEMPORARY TABLE seed_customers ON COMMIT DROP AS
      SELECT (row_number() OVER (ORDER BY email) - 1)::int AS n, id FROM users WHERE email LIKE 'bench-customer-0%'`);
    await run(sql`CREATE UNIQUE INDEX ON seed_customers (n)`);

    // Newest product last in ordinal order, one every ~3 minutes plus a
    // sub-minute part, so timestamps carry microseconds like real ones.
    // 1 in 20 DRAFT, 1 in 20 ARCHIVED, 1 in 25 soft-deleted, 1 in 11 out of stock.
    await run(sql`
      INSERT INTO products (seller_id, category_id, title, description, price_amount, currency, stock, status, created_at, updated_at, deleted_at)
      SELECT s.id, c.id,
             'Product ' || lpad(g.i::text, ${width}, '0'),
             'Product ' || lpad(g.i::text, ${width}, '0') || ': a benchmark product. Plain text, a couple of sentences long, like a short listing.',
             199 + floor(${unit(i, 1)} * 500)::int * 100,
             'EUR',
             CASE WHEN g.i % 11 = 5 THEN 0 ELSE 1 + floor(${unit(i, 2)} * 50)::int END,
             CASE WHEN g.i % 20 = 7 THEN 'DRAFT' WHEN g.i % 20 = 13 THEN 'ARCHIVED' ELSE 'ACTIVE' END,
             t.created, t.created,
             CASE WHEN g.i % 25 = 3 THEN now() - interval '1 minute' END
        FROM generate_series(1, ${sizes.products}) AS g(i)
        JOIN seed_sellers s ON s.n = (g.i - 1) % ${sizes.sellers} + 1
        JOIN seed_categories c ON c.n = ((g.i - 1) * 7) % ${sizes.categories} + 1
        CROSS JOIN LATERAL (
          SELECT now() - make_interval(secs => ((${sizes.products} - g.i) * 3 + ${unit(i, 3)}) * 60) AS created
        ) t`);
    await run(sql`CREATE TEMPORARY TABLE seed_products ON COMMIT DROP AS
      SELECT row_number() OVER (ORDER BY title)::int AS n, id, created_at FROM products`);

    // 0..max reviews per product, by consecutive customers from a hashed start (so distinct authors).
    await run(sql`ALTER TABLE reviews DISABLE TRIGGER reviews_refresh_product_rating`);
    await run(sql`
      INSERT INTO reviews (product_id, author_id, rating, body, created_at, updated_at)
      SELECT p.id, cu.id,
             1 + floor(((hashint4extended(p.n * 8 + r.k, 4) & 2147483647)::float8 / 2147483648.0) * 5)::int,
             CASE WHEN r.k % 2 = 0 THEN 'Exactly as described, arrived quickly.' ELSE 'Good value for the price; would buy again.' END,
             p.created_at + make_interval(secs => (r.k + 0.5) * 3600),
             p.created_at + make_interval(secs => (r.k + 0.5) * 3600)
        FROM seed_products p
        CROSS JOIN LATERAL generate_series(0, floor(${unit(sql.raw('p.n'), 5)} * ${sizes.maxReviewsPerProduct + 1})::int - 1) AS r(k)
        JOIN seed_customers cu
          ON cu.n = (floor(${unit(sql.raw('p.n'), 6)} * ${sizes.customers})::int + r.k) % ${sizes.customers}`);
    await run(sql`ALTER TABLE reviews ENABLE TRIGGER reviews_refresh_product_rating`);
    // What the trigger would have written, for every product at once.
    await run(sql`
      UPDATE products p
         SET review_count = s.n, rating_avg = s.avg
        FROM (
          SELECT product_id, count(*)::int AS n, coalesce(round(avg(rating), 2), 0) AS avg
            FROM reviews WHERE deleted_at IS NULL GROUP BY product_id
        ) s
       WHERE p.id = s.product_id`);

    const { rows } = await sql<{ products: string; visible: string; reviews: string }>`
      SELECT (SELECT count(*) FROM products) AS products,
             (SELECT count(*) FROM products WHERE status = 'ACTIVE' AND deleted_at IS NULL) AS visible,
             (SELECT count(*) FROM reviews) AS reviews`.execute(trx);
    const counts = rows[0];
    if (!counts) throw new Error('the seed counts returned no row');
    return {
      categories: sizes.categories,
      sellers: sizes.sellers,
      customers: sizes.customers + 1,
      products: Number(counts.products),
      visibleProducts: Number(counts.visible),
      reviews: Number(counts.reviews),
    };
  });
  await sql`VACUUM (ANALYZE)`.execute(db);
  return { ...summary, seconds: (Date.now() - started) / 1000, account: { ...BENCH_ACCOUNT } };
}
