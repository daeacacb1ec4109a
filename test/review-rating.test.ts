import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { inPlainTransaction } from '../src/db/unit-of-work.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { seeder } from './helpers/seed.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

describe('denormalised product rating', () => {
  it('stays exact when many reviews of one product are written concurrently', async () => {
    const seed = seeder(database.db);
    const product = await seed.product();
    const authors = await Promise.all(Array.from({ length: 12 }, () => seed.user()));
    // Each insert runs in its own transaction on its own connection; the trigger
    // must not lose any of them.
    await Promise.all(
      authors.map((author, i) =>
        inPlainTransaction(database.db, async (trx) => {
          await trx.insertInto('reviews').values({ product_id: product.id, author_id: author.id, rating: (i % 5) + 1 }).execute();
          await sql`SELECT pg_sleep(0.01)`.execute(trx);
        }),
      ),
    );
    const row = await database.db.selectFrom('products').select(['review_count', 'rating_avg']).where('id', '=', product.id).executeTakeFirstOrThrow();
    const expectedAverage = authors.reduce((sum, _a, i) => sum + (i % 5) + 1, 0) / authors.length;
    expect(row.review_count).toBe(12);
    expect(Number(row.rating_avg)).toBeCloseTo(expectedAverage, 2);
  });

  it('follows edits, soft deletes and restores', async () => {
    const seed = seeder(database.db);
    const product = await seed.product();
    const a = await seed.review({ product, rating: 5 });
    await seed.review({ product, rating: 1 });
    const read = () => database.db.selectFrom('products').select(['review_count', 'rating_avg']).where('id', '=', product.id).executeTakeFirstOrThrow();
    expect(await read()).toEqual({ review_count: 2, rating_avg: '3.00' });
    await database.db.updateTable('reviews').set({ rating: 3 }).where('id', '=', a.id).execute();
    expect(await read()).toEqual({ review_count: 2, rating_avg: '2.00' });
    await database.db.updateTable('reviews').set({ deleted_at: new Date() }).where('id', '=', a.id).execute();
    expect(await read()).toEqual({ review_count: 1, rating_avg: '1.00' });
    await database.db.updateTable('reviews').set({ deleted_at: null }).where('id', '=', a.id).execute();
    expect(await read()).toEqual({ review_count: 2, rating_avg: '2.00' });
  });
});
