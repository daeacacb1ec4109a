import { describe, expect, it } from '@jest/globals';

import { RecordLoader } from '../../src/loaders/record-loader.js';

interface Row {
  id: string;
  name: string;
}

/** A loader over an in-memory table that records every batch it was asked for. */
function loaderOver(table: Record<string, string>) {
  const batches: string[][] = [];
  const loader = new RecordLoader<string, Row | null>(async (ids) => {
    batches.push([...ids]);
    return ids.map((id) => (table[id] === undefined ? null : { id, name: table[id] }));
  });
  return { loader, batches };
}

describe('RecordLoader', () => {
  it('answers a primed record at once, and loads it without a batch', async () => {
    const { loader, batches } = loaderOver({ a: 'from the database' });
    loader.prime('a', { id: 'a', name: 'primed' });
    expect(loader.peek('a')).toEqual({ id: 'a', name: 'primed' });
    await expect(loader.load('a')).resolves.toEqual({ id: 'a', name: 'primed' });
    await expect(loader.loadMany(['a'])).resolves.toEqual([{ id: 'a', name: 'primed' }]);
    expect(batches).toEqual([]);
  });

  it('does not peek what it has not been primed with, and loads it in one batch', async () => {
    const { loader, batches } = loaderOver({ a: 'A', b: 'B' });
    expect(loader.peek('a')).toBeUndefined();
    await expect(Promise.all([loader.load('a'), loader.load('b'), loader.load('a')])).resolves.toEqual([
      { id: 'a', name: 'A' },
      { id: 'b', name: 'B' },
      { id: 'a', name: 'A' },
    ]);
    expect(batches).toEqual([['a', 'b']]);
    // Loaded values stay in DataLoader's cache (a second load makes no batch) but are not peekable.
    expect(loader.peek('a')).toBeUndefined();
    await loader.load('a');
    expect(batches).toHaveLength(1);
  });

  it('keeps the value it already holds when primed again, as DataLoader does', async () => {
    const { loader } = loaderOver({ b: 'loaded' });
    loader.prime('a', { id: 'a', name: 'first' });
    loader.prime('a', { id: 'a', name: 'second' });
    expect(loader.peek('a')?.name).toBe('first');
    await loader.load('b');
    loader.prime('b', { id: 'b', name: 'primed after the load' });
    expect(loader.peek('b')).toBeUndefined();
    await expect(loader.load('b')).resolves.toEqual({ id: 'b', name: 'loaded' });
  });

  it('forgets a cleared key, so the next load reads the database again', async () => {
    const { loader, batches } = loaderOver({ a: 'fresh' });
    loader.prime('a', { id: 'a', name: 'stale' });
    loader.clear('a');
    expect(loader.peek('a')).toBeUndefined();
    await expect(loader.load('a')).resolves.toEqual({ id: 'a', name: 'fresh' });
    expect(batches).toEqual([['a']]);
    loader.clear('a').prime('a', { id: 'a', name: 'written' });
    expect(loader.peek('a')?.name).toBe('written');
  });

  it('forgets everything on clearAll', () => {
    const { loader } = loaderOver({});
    loader.prime('a', { id: 'a', name: 'A' }).prime('b', { id: 'b', name: 'B' });
    loader.clearAll();
    expect(loader.peek('a')).toBeUndefined();
    expect(loader.peek('b')).toBeUndefined();
  });

  it('leaves primed errors to DataLoader: they reject on load and are never peeked', async () => {
    const { loader, batches } = loaderOver({ a: 'A' });
    loader.prime('a', new Error('broken row'));
    expect(loader.peek('a')).toBeUndefined();
    await expect(loader.load('a')).rejects.toThrow('broken row');
    expect(batches).toEqual([]);
  });
});
