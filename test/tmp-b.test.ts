import { expect, test } from '@jest/globals';
import { createTestDatabase } from './helpers/database.js';
test('parallel clones', async () => {
  const dbs = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
  for (const d of dbs) {
    const r = await d.db.selectFrom('users').select('id').execute();
    expect(r).toEqual([]);
  }
  await dbs[0]!.drop();
  await dbs[1]!.drop();
  // dbs[2] left behind on purpose (teardown must drop it)
  await dbs[2]!.db.destroy();
});
