import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Stored idempotent responses are sealed: encrypted and authenticated with
 * AES-256-GCM under a server key, so the `idempotency_keys` table never holds
 * an API key, an access token or a refresh token in plaintext (a keyed
 * `createApiKey`, `logIn` or `refreshSession` answers with one), nor any
 * secret a later mutation returns. Every body is sealed, not only those of
 * operations known to carry secrets: nothing has to remember to opt in.
 *
 * The additional authenticated data binds a sealed body to its record
 * (principal, credential, key, fingerprint): a body copied onto another
 * record does not open.
 *
 * Format: `v1.<kid>.<iv>.<ciphertext + tag>`, the last two base64url.
 */
export interface ResponseSealer {
  seal(plaintext: string, binding: string): string;
  /** The plaintext, or `undefined` when the body does not open (its key is gone, or it was altered). */
  open(sealed: string, binding: string): string | undefined;
}

export interface SealingKeys {
  /** Id of the key that seals new bodies. */
  readonly sealingKid: string;
  /** Every key that may open a body, by id: 32 bytes each. */
  readonly sealingKeys: ReadonlyMap<string, Buffer>;
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createResponseSealer(keys: SealingKeys): ResponseSealer {
  const current = keys.sealingKeys.get(keys.sealingKid);
  if (current?.length !== 32) throw new Error('createResponseSealer: the sealing key must be 32 bytes');
  if (keys.sealingKid.includes('.')) throw new Error('createResponseSealer: a key id must not contain "."');
  // Key objects made once: a raw key is checked and copied into one on every cipher (about two thirds of a seal's time).
  const sealingKey = createSecretKey(current);
  // A key of another length could never open an AES-256 body: left out, such a body does not open, as before.
  const openingKeys = new Map<string, KeyObject>([...keys.sealingKeys].filter(([, key]) => key.length === 32).map(([kid, key]) => [kid, createSecretKey(key)]));
  return {
    seal(plaintext, binding) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', sealingKey, iv);
      cipher.setAAD(Buffer.from(binding, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${keys.sealingKid}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, binding) {
      const parts = sealed.split('.');
      if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
      const key = openingKeys.get(parts[1] as string);
      if (key === undefined) return undefined;
      const iv = Buffer.from(parts[2] as string, 'base64url');
      const body = Buffer.from(parts[3] as string, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(binding, 'utf8'));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
