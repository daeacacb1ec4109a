/**
 * A history of orders over the seeded catalogue (bench/lib/seed.ts), for
 * runs that need sales to count: `orders` orders of one item each (1 to 3
 * units of one product, from one of the bench's customers), in every status
 * (30 % PENDING_PAYMENT, 20 % PAID, 10 % SHIPPED, 20 % DELIVERED, 10 %
 * CANCELLED, 10 % REFUNDED). Set-based and deterministic like the catalogue:
 * product, customer, quantity and status come from PostgreSQL's integer hash
 * of the order's ordinal. Written as checkout writes them (totals and the
 * item's snapshot), behind the API's back: it touches neither stock nor any
 * count of units sold, so it belongs before a schema that keeps such a count
 * (the migration drill seeds it before its expand, and the backfill counts it).
 */
import { sql, type Kysely } from 'kysely';

import type { Database } from '../../src/db/database.js';
import { inPlainTransaction } from '../../src/db/unit-of-work.js';

/** An integer in [0, modulo) from the ordinal `n` and a salt. */
const pick = (n: ReturnType<typeof sql.raw>, salt: number, modulo: ReturnType<typeof sql.raw> | number) =>
  sql`((hashint4extended(${n}, ${sql.lit(salt)}) & 2147483647) % ${modulo})`;

export async function seedOrderHistory(db: Kysely<Database>, orders: number): Promise<{ orders: number; units: number; seconds: number }> {
  const started = Date.now();
  const units = await inPlainTransaction(db, async (trx) => {
    const n = sql.raw('g.n');
    await sql`CREATE TEMPORARY TABLE history_products ON COMMIT DROP AS
      SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k, id, seller_id, title, price_amount, currency FROM products`.execute(trx);
    await sql`CREATE TEMPORARY TABLE history_customers ON COMMIT DROP AS
      SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k, id FROM users WHERE role = 'CUSTOMER'`.execute(trx);
    await sql`CREATE TEMPORARY TABLE history ON COMMIT DROP AS
      SELECT gen_random_uuid() AS order_id, p.id AS product_id, p.seller_id, p.title, p.price_amount, p.currency, c.id AS customer_id,
             1 + ${pick(n, 31, 3)} AS quantity,
             (ARRAY['PENDING_PAYMENT','PENDING_PAYMENT','PENDING_PAYMENT','PAID','PAID','SHIPPED','DELIVERED','DELIVERED','CANCELLED','REFUNDED'])[1 + ${pick(n, 32, 10)}] AS status
        FROM generate_series(1, ${orders}) AS g(n)
        JOIN history_products p ON p.k = ${pick(n, 33, sql.raw('(SELECT count(*) FROM history_products)'))}
        JOIN history_customers c ON c.k = ${pick(n, 34, sql.raw('(SELECT count(*) FROM history_customers)'))}`.execute(trx);
    await sql`
      INSERT INTO orders (id, customer_id, seller_id, status, currency, total_amount)
      SELECT order_id, customer_id, seller_id, status, currency, price_amount * quantity FROM history`.execute(trx);
    await sql`
      INSERT INTO order_items (order_id, product_id, product_title, quantity, unit_price_amount, currency)
      SELECT order_id, product_id, title, quantity, price_amount, currency FROM history`.execute(trx);
    const { rows } = await sql<{ units: string }>`SELECT coalesce(sum(quantity), 0) AS units FROM history`.execute(trx);
    return Number(rows[0]?.units ?? 0);
  });
  await sql`VACUUM (ANALYZE) orders, order_items`.execute(db);
  return { orders, units, seconds: (Date.now() - started) / 1000 };
}
