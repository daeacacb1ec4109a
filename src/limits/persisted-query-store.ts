/**
 * The store of automatic persisted queries (APQ): hash -> document text,
 * bounded, least recently used out first. Apollo Server registers documents
 * in it; the idempotency edge reads it too, so a mutation sent by hash alone
 * is fingerprinted by its document like one sent in full. Per instance: a
 * client whose hash misses on another instance sends the document once more.
 */
import type { PersistedQueryOptions } from '@apollo/server';

type DocumentCache = NonNullable<PersistedQueryOptions['cache']>;

/** @default 1000 documents (each at most QUERY_MAX_BYTES). */
export const DEFAULT_PERSISTED_QUERY_ENTRIES = 1000;

export function createPersistedQueryStore(maxEntries = DEFAULT_PERSISTED_QUERY_ENTRIES): DocumentCache {
  const entries = new Map<string, string>();
  return {
    get: async (key) => {
      const value = entries.get(key);
      if (value !== undefined) {
        // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set: async (key, value) => {
      entries.delete(key);
      entries.set(key, value);
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
    delete: async (key) => {
      entries.delete(key);
    },
  };
}

/** The key Apollo Server stores a document under (it prefixes every APQ key with `apq:`). */
export function persistedQueryKey(sha256Hash: string): string {
  return `apq:${sha256Hash}`;
}
