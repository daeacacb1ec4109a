/**
 * Trusted documents (TRUSTED_DOCUMENTS_FILE): in this mode only the
 * operations of the server's own clients run, each known by the SHA-256 hash
 * of its text. Anything else is refused with DOCUMENT_NOT_TRUSTED before it
 * is parsed, so no crafted document reaches the server's GraphQL engine.
 *
 * The file is a JSON object mapping each hash (64 lower-case hex digits, the
 * SHA-256 of the document text in UTF-8) to the document, the format GraphQL
 * Code Generator's client preset writes as `persisted-documents.json`:
 *
 *   { "5c4e...": "query Catalog($first: Int) { products(first: $first) { ... } }" }
 *
 * Clients send either the hash alone, as an automatic persisted query
 * (`extensions.persistedQuery.sha256Hash`, POST or GET), or the full text of
 * a listed document.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { PersistedQueryOptions } from '@apollo/server';

type DocumentCache = NonNullable<PersistedQueryOptions['cache']>;

export interface TrustedDocuments {
  readonly size: number;
  has(hash: string): boolean;
  /**
   * A read-only store for Apollo's persisted-query lookup: a hash-only request
   * finds its document here; registering new documents is a no-op.
   */
  readonly cache: DocumentCache;
}

export class TrustedDocumentsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustedDocumentsError';
  }
}

export function documentHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const HASH = /^[0-9a-f]{64}$/;

/** Builds the set from the parsed file content; every hash must match its document. */
export function trustedDocumentsFrom(content: unknown, source = 'trusted documents'): TrustedDocuments {
  if (content === null || typeof content !== 'object' || Array.isArray(content)) {
    throw new TrustedDocumentsError(`${source} must be a JSON object mapping SHA-256 hashes to documents`);
  }
  const documents = new Map<string, string>();
  for (const [hash, text] of Object.entries(content)) {
    if (!HASH.test(hash) || typeof text !== 'string') {
      throw new TrustedDocumentsError(`${source}: every key must be a SHA-256 hash (64 lower-case hex digits) and every value a document`);
    }
    if (documentHash(text) !== hash) {
      throw new TrustedDocumentsError(`${source}: the hash ${hash} is not the SHA-256 of its document`);
    }
    documents.set(hash, text);
  }
  // Apollo prefixes persisted-query keys with "apq:".
  const lookup = (key: string): string | undefined => documents.get(key.startsWith('apq:') ? key.slice(4) : key);
  return {
    size: documents.size,
    has: (hash) => documents.has(hash),
    cache: {
      get: async (key) => lookup(key),
      set: async () => undefined,
      delete: async () => undefined,
    },
  };
}

/** Reads and checks TRUSTED_DOCUMENTS_FILE; throws TrustedDocumentsError naming the problem. */
export function loadTrustedDocuments(file: string): TrustedDocuments {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TrustedDocumentsError(`TRUSTED_DOCUMENTS_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let content: unknown;
  try {
    content = JSON.parse(raw);
  } catch {
    throw new TrustedDocumentsError(`TRUSTED_DOCUMENTS_FILE ${file} is not valid JSON`);
  }
  return trustedDocumentsFrom(content, `TRUSTED_DOCUMENTS_FILE ${file}`);
}
