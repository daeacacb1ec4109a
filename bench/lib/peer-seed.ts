/**
 * What `npm run bench:peer`'s shapes need beyond the catalogue of
 * ./seed.ts, written set-based after it, into the bench's own database only:
 *
 * - a word from a list of 50 appended to every product's title, so that a
 *   search by title matches about one product in 50 (the generated search
 *   vector follows the title);
 * - 40 more reviews of one visible product (the product page's), by 40
 *   customers who had not reviewed it (the triggers keep its count and mean);
 * - orders of 1 to 3 items, each item a different visible product of the
 *   order's seller, written as checkout writes them (totals and snapshots),
 *   one in ten for the bench customer, the others for the seeded customers,
 *   one a minute going back in time, in every status; the sales of one seller
 *   whose account gets the bench password;
 * - `search_products(term)`, a set-returning SQL function with the API's
 *   visibility, match and order, which PostGraphile exposes as
 *   `searchProducts`: the way a PostGraphile schema offers a full-text search.
 *
 * Stock and units sold are not touched: no shape reads them.
 */
import { sql, type Kysely } from 'kysely';

import { hashPassword } from '../../src/auth/passwords.js';
import type { Database } from '../../src/db/database.js';
import { inPlainTransaction } from '../../src/db/unit-of-work.js';
import { BENCH_ACCOUNT } from './seed.js';

export const BENCH_SELLER = { email: 'bench-seller-00001@example.test', password: BENCH_ACCOUNT.password } as const;

const WORDS = [
  'lamp', 'chair', 'table', 'kettle', 'blanket', 'mirror', 'basket', 'candle', 'teapot', 'shelf',
  'rug', 'clock', 'vase', 'bottle', 'jacket', 'scarf', 'boots', 'gloves', 'wallet', 'satchel',
  'pencil', 'notebook', 'easel', 'guitar', 'violin', 'drum', 'flute', 'camera', 'tripod', 'lens',
  'tent', 'lantern', 'compass', 'kayak', 'paddle', 'helmet', 'saddle', 'bicycle', 'skates', 'racket',
  'puzzle', 'marble', 'kite', 'yoyo', 'robot', 'teacup', 'ladle', 'skillet', 'whisk', 'grater',
] as const;

/** The search term of the `search` shape: one of the words above. */
export const SEARCH_TERM = 'lantern';

export interface PeerFixtures {
  /** The product page's product: visible, with at least 40 live reviews. */
  productId: string;
  categorySlug: string;
  customerId: string;
  sellerId: string;
  orders: number;
  reviewsAdded: number;
}

/** An integer in [0, modulo) from the ordinal `n` and a salt. */
const pick = (n: ReturnType<typeof sql.raw>, salt: number, modulo: number | ReturnType<typeof sql>) =>
  sql`((hashint4extended(${n}, ${sql.lit(salt)}) & 2147483647) % ${modulo})`;

export async function seedPeerShapes(db: Kysely<Database>, products: number): Promise<PeerFixtures> {
  const passwordHash = await hashPassword(BENCH_SELLER.password);
  const orders = Math.max(400, Math.round(products / 5));
  const fixtures = await inPlainTransaction(db, async (trx) => {
    const run = (query: ReturnType<typeof sql>) => query.execute(trx);
    const n = sql.raw('g.n');

    await run(sql`
      UPDATE products p SET title = p.title || ' ' || (${[...WORDS]}::text[])[1 + ((hashtext(p.id::text) & 2147483647) % ${WORDS.length})]`);

    const seller = await trx
      .updateTable('users')
      .set({ password_hash: passwordHash })
      .where('email', '=', BENCH_SELLER.email)
      .returning('id')
      .executeTakeFirstOrThrow();
    const customer = await trx.selectFrom('users').select('id').where('email', '=', BENCH_ACCOUNT.email).executeTakeFirstOrThrow();

    // The product page: the first visible product of the first category, reviewed 40 more times.
    const product = await trx
      .selectFrom('products')
      .select(['id', 'category_id'])
      .where('status', '=', 'ACTIVE')
      .where('deleted_at', 'is', null)
      .orderBy('title')
      .limit(1)
      .executeTakeFirstOrThrow();
    const added = await run(sql`
      INSERT INTO reviews (product_id, author_id, rating, title, body, created_at, updated_at)
      SELECT ${product.id}, u.id, 1 + (row_number() OVER (ORDER BY u.email))::int % 5, 'Review ' || u.display_name,
             'A benchmark review of a couple of sentences, written by ' || u.display_name || '.',
             now() - make_interval(mins => (row_number() OVER (ORDER BY u.email))::int),
             now() - make_interval(mins => (row_number() OVER (ORDER BY u.email))::int)
        FROM users u
       WHERE u.role = 'CUSTOMER' AND u.email LIKE 'bench-customer-0%'
         AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.product_id = ${product.id} AND r.author_id = u.id)
       ORDER BY u.email
       LIMIT 40`);
    const category = await trx.selectFrom('categories').select('slug').where('id', '=', product.category_id).executeTakeFirstOrThrow();

    // Orders: visible products by seller, numbered within their seller; an order takes 1 to 3 consecutive ones.
    await run(sql`CREATE TEMPORARY TABLE peer_products ON COMMIT DROP AS
      SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k,
             (row_number() OVER (PARTITION BY seller_id ORDER BY id) - 1)::int AS j,
             count(*) OVER (PARTITION BY seller_id)::int AS m,
             id, seller_id, title, price_amount, currency
        FROM products WHERE status = 'ACTIVE' AND deleted_at IS NULL`);
    await run(sql`CREATE UNIQUE INDEX ON peer_products (seller_id, j)`);
    await run(sql`CREATE TEMPORARY TABLE peer_customers ON COMMIT DROP AS
      SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k, id FROM users WHERE email LIKE 'bench-customer-0%'`);
    // One order in four of the seller with the password, so that its sales fill pages.
    await run(sql`CREATE TEMPORARY TABLE peer_orders ON COMMIT DROP AS
      SELECT gen_random_uuid() AS id, g.n,
             CASE WHEN ${pick(n, 41, 4)} = 0
                  THEN (SELECT s.k FROM peer_products s
                         WHERE s.seller_id = ${seller.id}
                           AND s.j = ${pick(n, 47, sql`(SELECT count(*) FROM peer_products WHERE seller_id = ${seller.id})`)})
                  ELSE ${pick(n, 42, sql`(SELECT count(*) FROM peer_products)`)} END AS product_k,
             CASE WHEN g.n % 10 = 0 THEN ${customer.id}::uuid
                  ELSE (SELECT c.id FROM peer_customers c WHERE c.k = ${pick(n, 43, sql`(SELECT count(*) FROM peer_customers)`)}) END AS customer_id,
             1 + ${pick(n, 44, 3)} AS lines,
             (ARRAY['PENDING_PAYMENT','PAID','PAID','SHIPPED','DELIVERED','DELIVERED','DELIVERED','CANCELLED','REFUNDED','PAID'])[1 + ${pick(n, 45, 10)}] AS status,
             now() - make_interval(mins => g.n) AS created_at
        FROM generate_series(1, ${orders}) AS g(n)`);
    await run(sql`CREATE TEMPORARY TABLE peer_items ON COMMIT DROP AS
      SELECT o.id AS order_id, o.customer_id, o.status, o.created_at, q.seller_id, q.id AS product_id, q.title, q.price_amount, q.currency,
             1 + ${pick(sql.raw('(o.n * 3 + l.i)::int'), 46, 3)} AS quantity
        FROM peer_orders o
        JOIN peer_products p ON p.k = o.product_k
        CROSS JOIN LATERAL generate_series(0, o.lines - 1) AS l(i)
        JOIN peer_products q ON q.seller_id = p.seller_id AND q.j = (p.j + l.i) % p.m
       WHERE l.i < p.m`);
    await run(sql`
      INSERT INTO orders (id, customer_id, seller_id, status, currency, total_amount, created_at, updated_at)
      SELECT order_id, min(customer_id::text)::uuid, min(seller_id::text)::uuid, min(status), min(currency), sum(price_amount * quantity),
             min(created_at), min(created_at)
        FROM peer_items GROUP BY order_id`);
    await run(sql`
      INSERT INTO order_items (order_id, product_id, product_title, quantity, unit_price_amount, currency)
      SELECT order_id, product_id, title, quantity, price_amount, currency FROM peer_items`);

    // What PostGraphile serves as `searchProducts(term)`: the API's visibility, match and order.
    await run(sql`
      CREATE FUNCTION search_products(term text) RETURNS SETOF products LANGUAGE sql STABLE AS $$
        SELECT * FROM products
         WHERE status = 'ACTIVE' AND deleted_at IS NULL AND search @@ websearch_to_tsquery('english', term)
         ORDER BY created_at DESC, id DESC
      $$`);
    return {
      productId: product.id,
      categorySlug: category.slug,
      customerId: customer.id,
      sellerId: seller.id,
      orders,
      reviewsAdded: Number(added.numAffectedRows ?? 0),
    };
  });
  await sql`VACUUM (ANALYZE) products, reviews, orders, order_items`.execute(db);
  return fixtures;
}
