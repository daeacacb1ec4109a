import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql, type Kysely } from 'kysely';

import { migrations } from '../migrations/index.js';
import type { Database } from '../src/db/database.js';
import { appTables as appTablesOfCode } from '../src/modules/registry.js';
import { migrateToLatest, migrationStatus, pendingMigrations, rollbackOne } from '../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

/** Every table the modules' descriptors (and the cross-cutting code) declare, in name order. */
const APP_TABLES = [...appTablesOfCode].sort();
const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url);

/** Tables of the public schema, without Kysely's own bookkeeping. */
async function appTables(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely\\_%'
     ORDER BY table_name`.execute(db);
  return rows.map((row) => row.table_name);
}

async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  return (await migrationStatus(db)).filter((m) => m.executedAt !== undefined).map((m) => m.name);
}

async function ratingFunctionExists(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ found: number }>`
    SELECT 1 AS found FROM pg_proc WHERE proname = 'reviews_refresh_product_rating'`.execute(db);
  return rows.length > 0;
}

describe('migrations on an empty database', () => {
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase({ empty: true });
  });
  afterAll(async () => {
    await fresh.drop();
  });

  test('migrateToLatest applies every registered migration, in name order, and creates all tables', async () => {
    expect(await appTables(fresh.db)).toEqual([]);

    const result = await migrateToLatest(fresh.db);

    const names = Object.keys(migrations).sort();
    expect(result.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual(
      names.map((name) => [name, 'Up', 'Success']),
    );
    expect(await pendingMigrations(fresh.db)).toEqual([]);
    expect(await appTables(fresh.db)).toEqual(APP_TABLES);
    expect(await ratingFunctionExists(fresh.db)).toBe(true);
  });

  test('rollbackOne undoes exactly the newest applied migration each time, down to an empty schema', async () => {
    await migrateToLatest(fresh.db);
    const applied = await appliedMigrations(fresh.db);
    expect(applied).toEqual(Object.keys(migrations).sort());

    for (let remaining = applied.length; remaining > 0; remaining -= 1) {
      const result = await rollbackOne(fresh.db);
      expect(result.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([
        [applied[remaining - 1], 'Down', 'Success'],
      ]);
      expect(await appliedMigrations(fresh.db)).toEqual(applied.slice(0, remaining - 1));
    }

    expect(await appTables(fresh.db)).toEqual([]);
    expect(await ratingFunctionExists(fresh.db)).toBe(false);
    // Nothing left to undo.
    expect((await rollbackOne(fresh.db)).results).toEqual([]);
  });

  test('after a full rollback, migrating up again recreates the same schema', async () => {
    while ((await appliedMigrations(fresh.db)).length > 0) await rollbackOne(fresh.db);
    expect(await appTables(fresh.db)).toEqual([]);

    await migrateToLatest(fresh.db);

    expect(await pendingMigrations(fresh.db)).toEqual([]);
    expect(await appTables(fresh.db)).toEqual(APP_TABLES);
    expect(await ratingFunctionExists(fresh.db)).toBe(true);
  });
});

describe('migration registry', () => {
  test('every file in migrations/ (but index.ts and squawk-exceptions.ts) is registered in migrations/index.ts under its own name, and nothing else is', async () => {
    const files = (await readdir(MIGRATIONS_DIR))
      .filter((file) => file.endsWith('.ts') && file !== 'index.ts' && file !== 'squawk-exceptions.ts')
      .map((file) => file.slice(0, -'.ts'.length))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(migrations).sort()).toEqual(files);

    for (const name of files) {
      const module = (await import(`../migrations/${name}.js`)) as Record<string, unknown>;
      expect({ name, migration: migrations[name] }).toMatchObject({
        name,
        migration: { up: module.up, down: module.down },
      });
    }
  });
});

describe('database constraints (on a clone of the migrated template)', () => {
  let testDb: TestDatabase;
  let db: Kysely<Database>;
  let sellerId: string;
  let customerId: string;
  let categoryId: string;
  let unique = 0;

  const nextEmail = (): string => `user${(unique += 1)}@example.com`;

  async function insertUser(email = nextEmail()): Promise<string> {
    const row = await db
      .insertInto('users')
      .values({ email, display_name: 'Test user', role: 'SELLER' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async function insertProduct(overrides: { price_amount?: number; stock?: number } = {}): Promise<string> {
    const row = await db
      .insertInto('products')
      .values({
        seller_id: sellerId,
        category_id: categoryId,
        title: `Product ${(unique += 1)}`,
        price_amount: 1999,
        currency: 'EUR',
        stock: 3,
        ...overrides,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async function insertReview(productId: string, authorId: string, rating = 4): Promise<string> {
    const row = await db
      .insertInto('reviews')
      .values({ product_id: productId, author_id: authorId, rating })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = testDb.db;
    sellerId = await insertUser();
    customerId = await insertUser();
    const category = await db
      .insertInto('categories')
      .values({ name: 'Books', slug: 'books' })
      .returning('id')
      .executeTakeFirstOrThrow();
    categoryId = category.id;
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test('the template clone starts migrated and empty', async () => {
    expect(await pendingMigrations(db)).toEqual([]);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM orders`.execute(db);
    expect(rows[0]?.n).toBe(0);
  });

  test('a product price cannot be negative (zero is allowed)', async () => {
    await expect(insertProduct({ price_amount: -1 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'products_price_amount_check',
    });
    await expect(insertProduct({ price_amount: 0 })).resolves.toEqual(expect.any(String));
  });

  test('product stock cannot be negative (zero is allowed)', async () => {
    await expect(insertProduct({ stock: -1 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'products_stock_check',
    });
    await expect(insertProduct({ stock: 0 })).resolves.toEqual(expect.any(String));
  });

  test('an order item quantity must be at least 1', async () => {
    const productId = await insertProduct();
    const order = await db
      .insertInto('orders')
      .values({ customer_id: customerId, seller_id: sellerId, currency: 'EUR', total_amount: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const item = (quantity: number) =>
      db
        .insertInto('order_items')
        .values({
          order_id: order.id,
          product_id: productId,
          product_title: 'Snapshot title',
          quantity,
          unit_price_amount: 1999,
          currency: 'EUR',
        })
        .execute();

    await expect(item(0)).rejects.toMatchObject({ code: '23514', constraint: 'order_items_quantity_check' });
    await expect(item(1)).resolves.toHaveLength(1);
  });

  test('a review rating must be between 1 and 5', async () => {
    const productId = await insertProduct();
    await expect(insertReview(productId, await insertUser(), 6)).rejects.toMatchObject({
      code: '23514',
      constraint: 'reviews_rating_check',
    });
    await expect(insertReview(productId, await insertUser(), 0)).rejects.toMatchObject({
      code: '23514',
      constraint: 'reviews_rating_check',
    });
    await expect(insertReview(productId, await insertUser(), 5)).resolves.toEqual(expect.any(String));
  });

  test('two users cannot have emails that differ only in letter case', async () => {
    await insertUser('Case.Test@Example.com');
    await expect(insertUser('case.test@example.COM')).rejects.toMatchObject({
      code: '23505',
      constraint: 'users_email_lower_key',
    });
    await expect(insertUser('case.test2@example.com')).resolves.toEqual(expect.any(String));
  });

  test('an author has at most one live review per product; a soft-deleted one does not count', async () => {
    const productId = await insertProduct();
    const authorId = await insertUser();
    const first = await insertReview(productId, authorId, 2);

    await expect(insertReview(productId, authorId, 3)).rejects.toMatchObject({
      code: '23505',
      constraint: 'reviews_product_author_live_key',
    });
    // Another author may review the same product, and this author another product.
    await expect(insertReview(productId, await insertUser())).resolves.toEqual(expect.any(String));
    await expect(insertReview(await insertProduct(), authorId)).resolves.toEqual(expect.any(String));

    await db.updateTable('reviews').set({ deleted_at: new Date() }).where('id', '=', first).execute();
    const second = await insertReview(productId, authorId, 3);
    expect(second).not.toBe(first);

    // The new review is live again, so a third is refused.
    await expect(insertReview(productId, authorId, 1)).rejects.toMatchObject({
      code: '23505',
      constraint: 'reviews_product_author_live_key',
    });
  });
});
