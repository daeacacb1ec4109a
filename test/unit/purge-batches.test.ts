/** Bounded purges (src/jobs/purge.ts): statements of at most a batch, until one deletes fewer, at most so many per run. */
import { describe, expect, it } from '@jest/globals';

import { deleteInBatches } from '../../src/jobs/purge.js';

/** A table of `rows` rows that each statement deletes from. */
function table(rows: number) {
  let left = rows;
  const limits: number[] = [];
  return {
    limits,
    deleteBatch: async (limit: number) => {
      limits.push(limit);
      const deleted = Math.min(limit, left);
      left -= deleted;
      return deleted;
    },
  };
}

describe('deleteInBatches', () => {
  it('deletes in statements of the batch size until one deletes fewer', async () => {
    const rows = table(2500);
    expect(await deleteInBatches(rows.deleteBatch, { batchSize: 1000 })).toEqual({ deleted: 2500, statements: 3, more: false });
    expect(rows.limits).toEqual([1000, 1000, 1000]);
  });

  it('runs one more statement after an exact multiple, to see that nothing is left', async () => {
    expect(await deleteInBatches(table(2000).deleteBatch, { batchSize: 1000 })).toEqual({ deleted: 2000, statements: 3, more: false });
  });

  it('stops after the most statements a run may take and says there may be more', async () => {
    expect(await deleteInBatches(table(100).deleteBatch, { batchSize: 10, maxBatches: 3 })).toEqual({ deleted: 30, statements: 3, more: true });
  });

  it('runs a single statement on an empty table', async () => {
    expect(await deleteInBatches(table(0).deleteBatch)).toEqual({ deleted: 0, statements: 1, more: false });
  });
});
