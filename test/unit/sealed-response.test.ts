import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';

import { generateSigningJwks, loadSigningKeys } from '../../src/auth/signing-keys.js';
import { createResponseSealer } from '../../src/idempotency/sealed-response.js';

const keysOf = (entries: Array<[string, Buffer]>, sealingKid: string) => ({ sealingKid, sealingKeys: new Map(entries) });

describe('sealed idempotent responses', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const body = '{"data":{"createApiKey":{"plaintextKey":"mk_abc_secret"}}}';

  it('opens what it sealed, and the sealed text holds nothing of the plaintext', () => {
    const sealer = createResponseSealer(keysOf([['k1', a]], 'k1'));
    const sealed = sealer.seal(body, 'record-1');
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('mk_abc_secret');
    expect(sealer.open(sealed, 'record-1')).toBe(body);
    // A fresh IV each time: the same body never seals to the same text.
    expect(sealer.seal(body, 'record-1')).not.toBe(sealed);
  });

  it('does not open a body bound to another record, altered, or in an unknown format', () => {
    const sealer = createResponseSealer(keysOf([['k1', a]], 'k1'));
    const sealed = sealer.seal(body, 'record-1');
    expect(sealer.open(sealed, 'record-2')).toBeUndefined();
    const parts = sealed.split('.');
    const tampered = Buffer.from(parts[3] ?? '', 'base64url');
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(sealer.open([parts[0], parts[1], parts[2], tampered.toString('base64url')].join('.'), 'record-1')).toBeUndefined();
    for (const bad of ['', body, 'v2.k1.x.y', 'v1.k1.short.x', `v1.k1.${parts[2]}`]) expect(sealer.open(bad, 'record-1')).toBeUndefined();
  });

  it('opens bodies sealed by a retired key while it is configured, and not after it is removed', () => {
    const before = createResponseSealer(keysOf([['k1', a]], 'k1'));
    const sealedBefore = before.seal(body, 'r');
    const rotated = createResponseSealer(keysOf([['k1', a], ['k2', b]], 'k2'));
    expect(rotated.open(sealedBefore, 'r')).toBe(body);
    expect(rotated.seal(body, 'r')).toMatch(/^v1\.k2\./);
    const removed = createResponseSealer(keysOf([['k2', b]], 'k2'));
    expect(removed.open(sealedBefore, 'r')).toBeUndefined();
  });

  it('derives the sealing keys from the signing keys: the newest seals, every one opens, and they differ per key', async () => {
    const first = JSON.parse(await generateSigningJwks()) as { keys: object[] };
    const second = JSON.parse(await generateSigningJwks('ES256')) as { keys: object[] };
    const keys = await loadSigningKeys({ jwksJson: JSON.stringify({ keys: [...first.keys, ...second.keys] }), keyFile: '', allowGenerate: false });
    expect(keys.sealingKid).toBe(keys.signingKid);
    expect([...keys.sealingKeys.keys()]).toEqual([...keys.verifyKeys.keys()]);
    const [k1, k2] = [...keys.sealingKeys.values()];
    expect(k1?.length).toBe(32);
    expect(k1?.equals(k2 ?? Buffer.alloc(0))).toBe(false);
    // The same key set always derives the same keys (every instance of a deployment agrees).
    const again = await loadSigningKeys({ jwksJson: JSON.stringify({ keys: [...first.keys, ...second.keys] }), keyFile: '', allowGenerate: false });
    expect([...again.sealingKeys.values()].map((key) => key.toString('hex'))).toEqual([...keys.sealingKeys.values()].map((key) => key.toString('hex')));
  });
});
