import { describe, expect, it } from '@jest/globals';

import { byKeys, groupedByKeys, LoaderFamily } from '../../src/loaders/batch.js';

describe('batch helpers', () => {
  it('answers in key order with null for missing keys', () => {
    const rows = [{ id: 'b' }, { id: 'a' }];
    expect(byKeys(['a', 'x', 'b'], rows, (r) => r.id)).toEqual([{ id: 'a' }, null, { id: 'b' }]);
  });

  it('groups rows per key, keeping row order, with empty groups for missing keys', () => {
    const rows = [{ k: 'a', n: 1 }, { k: 'b', n: 2 }, { k: 'a', n: 3 }];
    expect(groupedByKeys(['b', 'a', 'c'], rows, (r) => r.k)).toEqual([[{ k: 'b', n: 2 }], [{ k: 'a', n: 1 }, { k: 'a', n: 3 }], []]);
  });

  it('batches keys that share arguments into one call and separates different arguments', async () => {
    const calls: Array<{ keys: readonly string[]; args: number }> = [];
    const family = new LoaderFamily<string, string, number>(
      (args) => String(args),
      async (keys, args) => {
        calls.push({ keys, args });
        return keys.map((k) => `${k}:${args}`);
      },
    );
    const results = await Promise.all([family.load('a', 1), family.load('b', 1), family.load('a', 2)]);
    expect(results).toEqual(['a:1', 'b:1', 'a:2']);
    expect(calls).toEqual([
      { keys: ['a', 'b'], args: 1 },
      { keys: ['a'], args: 2 },
    ]);
  });
});
