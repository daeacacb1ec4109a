import { createHmac, randomBytes } from 'node:crypto';

import { createResponseSealer, type SealingKeys } from '../../idempotency/sealed-response.js';

/**
 * Signing secrets and Standard Webhooks signatures.
 *
 * A secret is `whsec_` and 24 random bytes in base64 (the Standard Webhooks
 * form, which the `standardwebhooks` packages accept as is). At rest it is
 * sealed with AES-256-GCM under the server's sealing keys (derived from the
 * JWT signing keys, src/auth/signing-keys.ts, like stored idempotent
 * responses), bound to its endpoint: a sealed secret copied onto another
 * endpoint does not open. It is shown once, in the payload that creates or
 * rotates it, and never logged.
 */

const SECRET_PREFIX = 'whsec_';

export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

const binding = (endpointId: string) => `webhook-endpoint:${endpointId}`;

export function sealSecret(keys: SealingKeys, endpointId: string, secret: string): string {
  return createResponseSealer(keys).seal(secret, binding(endpointId));
}

/** The secret, or `undefined` when it no longer opens (its sealing key left the key set). */
export function openSecret(keys: SealingKeys, endpointId: string, sealed: string): string | undefined {
  return createResponseSealer(keys).open(sealed, binding(endpointId));
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` for one secret. */
export function signature(secret: string, webhookId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${webhookId}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; several secrets (a rotation's overlap) give space-separated signatures. */
export function webhookHeaders(secrets: readonly string[], webhookId: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((secret) => signature(secret, webhookId, timestampSeconds, body)).join(' '),
  };
}

/** Whether `sealed` was sealed under the key that seals new secrets (so re-sealing it would change nothing). */
export function sealedUnderCurrentKey(keys: SealingKeys, sealed: string): boolean {
  return sealed.startsWith(`v1.${keys.sealingKid}.`);
}
