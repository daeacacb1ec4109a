import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Opaque bearer secrets: refresh tokens and API keys. Both carry 256 random
 * bits, so a fast SHA-256 at rest is enough (no password hashing needed);
 * only the hash is stored.
 */
export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new refresh token: 256 random bits, base64url (43 characters). */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export const REFRESH_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** API keys look like `mk_<prefix>_<secret>`: recognisable, with a public lookup prefix. */
export const API_KEY_SHAPE = /^mk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function newApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
  const key = `mk_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix };
}

export function isApiKeyShaped(token: string): boolean {
  return token.startsWith('mk_');
}

/** The lookup prefix of a well-formed key, or undefined. */
export function apiKeyPrefix(token: string): string | undefined {
  return API_KEY_SHAPE.exec(token)?.[1];
}
