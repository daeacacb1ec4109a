import DataLoader from 'dataloader';

/**
 * DataLoader batch functions must answer in key order, one result per key.
 * These helpers do that once, so no batch function re-implements it.
 */

/** One row (or null) per key, matched by `keyOf(row)`. */
export function byKeys<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): (R | null)[] {
  const found = new Map<K, R>();
  for (const row of rows) found.set(keyOf(row), row);
  return keys.map((key) => found.get(key) ?? null);
}

/** All rows per key (an empty array for keys without rows), keeping the rows' order. */
export function groupedByKeys<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): R[][] {
  const groups = new Map<K, R[]>();
  for (const key of keys) groups.set(key, []);
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((key) => groups.get(key) ?? []);
}

/**
 * Loaders whose batch query also depends on arguments (a page size, a cursor,
 * a filter): one DataLoader per distinct argument set, so all parents asking
 * with the same arguments share one statement.
 */
export class LoaderFamily<K, V, A> {
  private readonly loaders = new Map<string, DataLoader<K, V>>();

  constructor(
    private readonly keyOfArgs: (args: A) => string,
    private readonly batch: (keys: readonly K[], args: A) => Promise<V[]>,
  ) {}

  load(key: K, args: A): Promise<V> {
    const id = this.keyOfArgs(args);
    let loader = this.loaders.get(id);
    if (!loader) {
      loader = new DataLoader<K, V>((keys) => this.batch(keys, args), { maxBatchSize: 500 });
      this.loaders.set(id, loader);
    }
    return loader.load(key);
  }
}
