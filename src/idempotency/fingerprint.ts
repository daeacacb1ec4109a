import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so `{a, b}` and `{b, a}`
 * fingerprint alike. Recursive: it only sees variables that passed the
 * route's nesting limit (MAX_REQUEST_JSON_DEPTH, src/limits/query-limits.ts),
 * checked before any hook runs.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What makes two requests "the same" for an idempotency key: the document
 * text, the operation name and the variables (key order ignored). SHA-256, hex.
 */
export function requestFingerprint(document: string, operationName: string | null, variables: unknown): string {
  return createHash('sha256').update(canonicalJson([document, operationName, variables ?? {}])).digest('hex');
}
