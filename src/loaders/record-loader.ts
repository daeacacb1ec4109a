import DataLoader from 'dataloader';

/** A value, or a promise of it: what a resolver may return, and what `peek`-first lookups answer. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A per-request DataLoader for records by id that can also answer
 * synchronously for the records it was handed (`prime`).
 *
 * A page statement often reads the records its rows point to (a product's
 * seller and category, a review's author) and primes them, so the fields
 * that follow the relation need no statement. A plain DataLoader still
 * answers each of those fields with a promise, and for a page of 50 products
 * with 3 reviews each that is some 250 promises, continuations and resolver
 * wrappers per request, only to hand back a value already in memory. `peek`
 * gives that value directly, and the resolver returns it as it is.
 *
 * Primed values are kept as values: a promise for one is made only if it is
 * `load`ed. The rules are DataLoader's: `prime` keeps a key the loader
 * already holds (primed or loaded), `clear` and `clearAll` forget it.
 * Values that came from the batch function are not peekable (they are
 * promises in DataLoader's cache); `load` answers them as usual.
 */
export class RecordLoader<K, V> extends DataLoader<K, V> {
  private readonly primed = new Map<K, V>();
  private readonly loaded: Map<K, Promise<V>>;

  constructor(batch: DataLoader.BatchLoadFn<K, V>, options: Omit<DataLoader.Options<K, V>, 'cacheMap' | 'cacheKeyFn'> = {}) {
    const loaded = new Map<K, Promise<V>>();
    super(batch, { ...options, cacheMap: loaded });
    this.loaded = loaded;
  }

  /** The value primed for `key`, or undefined when it was not primed (it may still be loadable). */
  peek(key: K): V | undefined {
    return this.primed.get(key);
  }

  /** Whether the loader holds `key` already (primed, loaded, or being loaded): a `load` of it then runs no statement. */
  holds(key: K): boolean {
    return this.primed.has(key) || this.loaded.has(key);
  }

  override load(key: K): Promise<V> {
    const primed = this.primed.get(key);
    return primed !== undefined ? Promise.resolve(primed) : super.load(key);
  }

  override prime(key: K, value: V | PromiseLike<V> | Error): this {
    if (this.primed.has(key) || this.loaded.has(key)) return this;
    // Errors, promises (and undefined, which `peek` means as "not primed") go to DataLoader's own cache; only values are peekable.
    if (value === undefined || value instanceof Error || isPromiseLike(value)) return super.prime(key, value);
    this.primed.set(key, value);
    return this;
  }

  override clear(key: K): this {
    this.primed.delete(key);
    return super.clear(key);
  }

  override clearAll(): this {
    this.primed.clear();
    return super.clearAll();
  }
}

function isPromiseLike<V>(value: V | PromiseLike<V>): value is PromiseLike<V> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
