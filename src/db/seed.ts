import { sql, type Kysely } from 'kysely';

import { hashPassword } from '../auth/passwords.js';
import type { Database } from './database.js';
import { inPlainTransaction } from './unit-of-work.js';
import type { Logger } from '../observability/logger.js';
import type { ProductStatus } from '../modules/products/product.table.js';

/** Every demo account shares this password; it exists only in seeded development data. */
export const DEMO_PASSWORD = 'marketplace-demo';

export const DEMO_ACCOUNTS = [
  { email: 'admin@example.com', displayName: 'Ada Admin', role: 'ADMIN' },
  { email: 'seller1@example.com', displayName: 'Nordic Home Co.', role: 'SELLER' },
  { email: 'seller2@example.com', displayName: 'Gadget Garage', role: 'SELLER' },
  { email: 'customer1@example.com', displayName: 'Chris Customer', role: 'CUSTOMER' },
  { email: 'customer2@example.com', displayName: 'Dana Doe', role: 'CUSTOMER' },
  { email: 'customer3@example.com', displayName: 'Eli Evans', role: 'CUSTOMER' },
] as const;

const CATEGORIES = [
  { name: 'Books', slug: 'books', nouns: ['Novel', 'Cookbook', 'Atlas', 'Guide', 'Anthology'] },
  { name: 'Electronics', slug: 'electronics', nouns: ['Headphones', 'Charger', 'Speaker', 'Keyboard', 'Webcam'] },
  { name: 'Home & Garden', slug: 'home-garden', nouns: ['Lamp', 'Planter', 'Rug', 'Kettle', 'Chair'] },
  { name: 'Sports', slug: 'sports', nouns: ['Yoga Mat', 'Water Bottle', 'Racket', 'Backpack', 'Helmet'] },
  { name: 'Toys', slug: 'toys', nouns: ['Puzzle', 'Robot Kit', 'Board Game', 'Kite', 'Building Set'] },
  { name: 'Fashion', slug: 'fashion', nouns: ['Scarf', 'Jacket', 'Sneakers', 'Wallet', 'Sunglasses'] },
];
const ADJECTIVES = ['Classic', 'Compact', 'Deluxe', 'Eco', 'Handmade', 'Modern', 'Rustic', 'Smart', 'Vintage', 'Wireless'];
/** Title and text of demo reviews (a review's title is optional: one has none). */
const REVIEWS = [
  { title: 'As described', body: 'Exactly as described, arrived quickly.' },
  { title: 'Good value', body: 'Good value for the price.' },
  { title: 'Would buy again', body: 'Solid build quality; would buy again.' },
  { title: '', body: 'Not quite what I expected, but it does the job.' },
  { title: 'Excellent!', body: 'Excellent! My favourite purchase this year.' },
  { title: 'Average', body: 'Average. The colour is a bit different from the photos.' },
];

/** Small deterministic PRNG (mulberry32), so every fresh database gets the same demo data. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SeedResult {
  seeded: boolean;
  users: number;
  products: number;
  orders: number;
  reviews: number;
}

/** A seeded order's lines, each a snapshot of its product's title and price. */
interface SeedLine {
  product: { id: string; title: string; price_amount: number; currency: string };
  quantity: number;
}

/** Units sold per product, as checkout counts them: a cancelled or refunded order's units are not sold. */
function countSold(sold: Map<string, number>, status: string, items: readonly SeedLine[]): void {
  if (status === 'CANCELLED' || status === 'REFUNDED') return;
  for (const { product, quantity } of items) sold.set(product.id, (sold.get(product.id) ?? 0) + quantity);
}

/** Writes the products' units sold (`products.sold_count`; the seed runs after the migrations, whose expand never waits). */
async function writeSoldCounts(trx: Kysely<Database>, sold: ReadonlyMap<string, number>): Promise<void> {
  if (sold.size === 0) return;
  const values = sql.join([...sold].map(([id, units]) => sql`(${id}::uuid, ${units}::integer)`));
  await sql`UPDATE products AS p SET sold_count = v.units FROM (VALUES ${values}) AS v(id, units) WHERE p.id = v.id`.execute(trx);
}

async function insertOrderLines(trx: Kysely<Database>, orderId: string, items: readonly SeedLine[]): Promise<void> {
  await trx
    .insertInto('order_items')
    .values(
      items.map(({ product, quantity }) => ({
        order_id: orderId,
        product_id: product.id,
        product_title: product.title,
        quantity,
        unit_price_amount: product.price_amount,
        currency: product.currency,
      })),
    )
    .execute();
}

/**
 * Fills an empty database with demo data: an admin, two sellers, three
 * customers, six categories, products in every status (some soft-deleted),
 * orders in every status (the delivered ones reviewed by their customers), and
 * the products' units sold as those orders make them. Does nothing if
 * any user exists. Runs in one transaction: all or nothing.
 */
export async function seedDemoData(db: Kysely<Database>, log: Logger): Promise<SeedResult> {
  const existing = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  if (Number(existing.n) > 0) return { seeded: false, users: 0, products: 0, orders: 0, reviews: 0 };

  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const rand = seededRandom(20261124);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const now = Date.now();
  const daysAgo = (days: number) => new Date(now - Math.round(days * 86_400_000));

  return inPlainTransaction(db, async (trx) => {
    const users = await trx
      .insertInto('users')
      .values(
        DEMO_ACCOUNTS.map((account, index) => ({
          email: account.email,
          display_name: account.displayName,
          role: account.role,
          password_hash: passwordHash,
          created_at: daysAgo(120 - index),
          updated_at: daysAgo(120 - index),
        })),
      )
      .returning(['id', 'role'])
      .execute();
    const sellers = users.filter((u) => u.role === 'SELLER').map((u) => u.id);
    const customers = users.filter((u) => u.role === 'CUSTOMER').map((u) => u.id);

    const categories = await trx
      .insertInto('categories')
      .values(CATEGORIES.map(({ name, slug }) => ({ name, slug })))
      .returning(['id', 'slug'])
      .execute();

    const productValues = [];
    for (const [c, category] of CATEGORIES.entries()) {
      const categoryId = categories.find((row) => row.slug === category.slug)?.id as string;
      for (let i = 0; i < 11; i += 1) {
        const noun = category.nouns[i % category.nouns.length] as string;
        const title = `${ADJECTIVES[(i * 3 + c) % ADJECTIVES.length]} ${noun}${i >= category.nouns.length ? ` ${Math.floor(i / category.nouns.length) + 1}` : ''}`;
        // Mostly ACTIVE; every few a DRAFT, an ARCHIVED or a soft-deleted one, so every state is present.
        const status: ProductStatus = i === 9 ? 'DRAFT' : i === 10 ? 'ARCHIVED' : 'ACTIVE';
        const created = daysAgo(90 - c * 11 - i + rand());
        productValues.push({
          seller_id: sellers[(c + i) % sellers.length] as string,
          category_id: categoryId,
          title,
          description: `${title}: a demo ${noun.toLowerCase()} from the ${category.name.toLowerCase()} range. Plain text, no markup.`,
          price_amount: 499 + Math.floor(rand() * 200) * 100,
          currency: 'EUR',
          stock: i % 7 === 6 ? 0 : 1 + Math.floor(rand() * 40),
          status,
          created_at: created,
          updated_at: created,
          deleted_at: i === 8 && c % 2 === 0 ? daysAgo(3) : null,
        });
      }
    }
    const products = await trx
      .insertInto('products')
      .values(productValues)
      .returning(['id', 'seller_id', 'title', 'price_amount', 'currency', 'status', 'deleted_at'])
      .execute();
    const buyable = products.filter((p) => p.status === 'ACTIVE');

    // Delivered orders: each customer bought several products, one order per (customer, seller).
    let orderCount = 0;
    const sold = new Map<string, number>();
    const reviewValues = [];
    for (const [k, customerId] of customers.entries()) {
      const bought = buyable.filter((_, index) => (index + k) % 3 === 0);
      for (const sellerId of sellers) {
        const items = bought.filter((p) => p.seller_id === sellerId).map((p) => ({ product: p, quantity: 1 + Math.floor(rand() * 3) }));
        if (items.length === 0) continue;
        const placed = daysAgo(30 - k * 2);
        const order = await trx
          .insertInto('orders')
          .values({
            customer_id: customerId,
            seller_id: sellerId,
            status: 'DELIVERED',
            currency: 'EUR',
            total_amount: items.reduce((sum, { product, quantity }) => sum + product.price_amount * quantity, 0),
            version: 4,
            created_at: placed,
            updated_at: daysAgo(20 - k * 2),
            paid_at: daysAgo(29 - k * 2),
            shipped_at: daysAgo(25 - k * 2),
            delivered_at: daysAgo(20 - k * 2),
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        orderCount += 1;
        await insertOrderLines(trx, order.id, items);
        countSold(sold, 'DELIVERED', items);
        for (const { product } of items) {
          if (rand() < 0.8) {
            const written = daysAgo(19 - k * 2 - rand() * 5);
            reviewValues.push({
              product_id: product.id,
              author_id: customerId,
              rating: 1 + Math.floor(rand() * 5),
              ...pick(REVIEWS),
              created_at: written,
              updated_at: written,
            });
          }
        }
      }
    }
    if (reviewValues.length > 0) await trx.insertInto('reviews').values(reviewValues).execute();

    // Orders in every other status, so each demo account sees the whole lifecycle: one per customer and status,
    // from a seller chosen in turn. Each stamp and version matches the transitions the order went through.
    const lifecycle = [
      { status: 'PENDING_PAYMENT', version: 1, stamps: {} },
      // Stamps: quarter days after placement.
      { status: 'PAID', version: 2, stamps: { paid_at: 1 } },
      { status: 'SHIPPED', version: 3, stamps: { paid_at: 1, shipped_at: 3 } },
      { status: 'CANCELLED', version: 2, stamps: { cancelled_at: 2 } },
      { status: 'REFUNDED', version: 3, stamps: { paid_at: 1, refunded_at: 3 } },
    ] as const;
    for (const [k, customerId] of customers.entries()) {
      for (const [s, step] of lifecycle.entries()) {
        const sellerId = sellers[(k + s) % sellers.length] as string;
        const offered = buyable.filter((p) => p.seller_id === sellerId);
        const items = [offered[(k * 5 + s) % offered.length], offered[(k * 5 + s + 3) % offered.length]]
          .filter((p, index, all): p is (typeof offered)[number] => p !== undefined && all.indexOf(p) === index)
          .map((product) => ({ product, quantity: 1 + Math.floor(rand() * 2) }));
        if (items.length === 0) continue;
        const placedDaysAgo = 6 - s + k * 0.3;
        const stamps = Object.fromEntries(Object.entries(step.stamps).map(([column, days]) => [column, daysAgo(placedDaysAgo - days / 4)]));
        const order = await trx
          .insertInto('orders')
          .values({
            customer_id: customerId,
            seller_id: sellerId,
            status: step.status,
            currency: 'EUR',
            total_amount: items.reduce((sum, { product, quantity }) => sum + product.price_amount * quantity, 0),
            version: step.version,
            created_at: daysAgo(placedDaysAgo),
            updated_at: daysAgo(placedDaysAgo - 1),
            ...stamps,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        orderCount += 1;
        await insertOrderLines(trx, order.id, items);
        countSold(sold, step.status, items);
      }
    }
    await writeSoldCounts(trx, sold);

    const result = { seeded: true, users: users.length, products: products.length, orders: orderCount, reviews: reviewValues.length };
    log.info(result, 'seeded demo data');
    return result;
  });
}
