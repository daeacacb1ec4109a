import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { base64url, decodeProtectedHeader, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

import { AccessTokens, CLOCK_TOLERANCE_SECONDS, InvalidTokenError, looksLikeJwt, unverifiedIssuer, type InvalidTokenReason } from '../../src/auth/access-tokens.js';
import { generateSigningJwks, loadSigningKeys, SigningKeysError, type SigningAlgorithm, type SigningKeys } from '../../src/auth/signing-keys.js';

const ISSUER = 'https://api.marketplace.test';
const AUDIENCE = 'marketplace-api-test';
const TTL = 900;
const USER = randomUUID();

/** A fresh private JWK (with kid, alg, use) as generateSigningJwks makes it. */
async function privateJwk(alg: SigningAlgorithm = 'EdDSA'): Promise<JWK> {
  const set = JSON.parse(await generateSigningJwks(alg)) as { keys: JWK[] };
  const [key] = set.keys;
  if (key === undefined) throw new Error('generateSigningJwks returned no key');
  return key;
}

function setOf(...keys: JWK[]): string {
  return JSON.stringify({ keys });
}

async function keysFrom(...keys: JWK[]): Promise<SigningKeys> {
  return loadSigningKeys({ jwksJson: setOf(...keys), keyFile: '/nonexistent/never-used.json', allowGenerate: false });
}

function tokensWith(keys: SigningKeys): AccessTokens {
  return new AccessTokens(keys, { issuer: ISSUER, audience: AUDIENCE, ttlSeconds: TTL });
}

const now = (): number => Math.floor(Date.now() / 1000);

function validClaims(overrides: JWTPayload = {}): JWTPayload {
  const iat = now();
  return { iss: ISSUER, aud: AUDIENCE, sub: USER, iat, nbf: iat, exp: iat + TTL, jti: randomUUID(), ver: 0, ...overrides };
}

/**
 * Signs arbitrary header and claims with a private JWK, bypassing
 * AccessTokens.sign, to craft tokens the verifier must reject.
 */
async function craft(jwk: JWK, options: { header?: Record<string, unknown>; claims?: JWTPayload; omit?: string[] } = {}): Promise<string> {
  const alg = options.header?.alg ?? jwk.alg;
  if (typeof alg !== 'string') throw new Error('craft needs an alg');
  const claims: Record<string, unknown> = validClaims(options.claims);
  for (const name of options.omit ?? []) delete claims[name];
  const header = { alg, kid: jwk.kid, typ: 'at+jwt', ...options.header };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name as keyof typeof header];
  const key = await importJWK(jwk, alg);
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

function decodeSegment(segment: string | undefined): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(segment ?? ''))) as Record<string, unknown>;
}

async function rejection(promise: Promise<unknown>): Promise<InvalidTokenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return error as InvalidTokenError;
  }
  throw new Error('expected the token to be rejected');
}

async function expectRejected(tokens: AccessTokens, token: string, reason: InvalidTokenReason): Promise<void> {
  const error = await rejection(tokens.verify(token));
  expect(error.reason).toBe(reason);
  // Clients see only the short reason; jose's text stays in `cause`.
  expect(error.message).toBe(`Invalid token: ${reason}`);
}

describe('AccessTokens', () => {
  let jwk: JWK;
  let keys: SigningKeys;
  let tokens: AccessTokens;

  beforeAll(async () => {
    jwk = await privateJwk('EdDSA');
    keys = await keysFrom(jwk);
    tokens = tokensWith(keys);
  });

  it('signs a token that verifies and carries the expected header and claims', async () => {
    const sid = randomUUID();
    const before = now();
    const { token, expiresAt } = await tokens.sign({ sub: USER, ver: 3, sid });

    expect(looksLikeJwt(token)).toBe(true);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: jwk.kid, typ: 'at+jwt' });
    const claims = await tokens.verify(token);
    expect(claims).toMatchObject({ sub: USER, ver: 3, sid });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.exp - claims.iat).toBe(TTL);
    expect(expiresAt.getTime()).toBe(claims.exp * 1000);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);

    const payload = decodeSegment(token.split('.')[1]);
    expect(payload).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: USER, nbf: claims.iat });
  });

  it('omits sid when none is given and gives every token its own jti', async () => {
    const first = await tokens.verify((await tokens.sign({ sub: USER, ver: 0 })).token);
    const second = await tokens.verify((await tokens.sign({ sub: USER, ver: 0 })).token);
    expect(first).not.toHaveProperty('sid');
    expect(first.jti).not.toBe(second.jti);
  });

  it('refuses to sign claims that could never verify', async () => {
    await expect(tokens.sign({ sub: 'not-a-uuid', ver: 0 })).rejects.toThrow(TypeError);
    await expect(tokens.sign({ sub: USER, ver: -1 })).rejects.toThrow(TypeError);
    await expect(tokens.sign({ sub: USER, ver: 1.5 })).rejects.toThrow(TypeError);
  });

  it('rejects an unsigned (alg "none") token', async () => {
    const header = encodeSegment({ alg: 'none', kid: jwk.kid, typ: 'at+jwt' });
    const payload = encodeSegment(validClaims());
    // As RFC 7519 writes it (empty signature), and with a dummy signature so
    // the token gets past the shape check to jose's algorithm allow-list.
    await expectRejected(tokens, `${header}.${payload}.`, 'malformed');
    await expectRejected(tokens, `${header}.${payload}.AAAA`, 'unsupported algorithm');
  });

  it('rejects an HS256 token that uses the public key as the HMAC secret', async () => {
    const [publicJwk] = keys.publicJwks.keys;
    if (publicJwk === undefined) throw new Error('no public key');
    const secrets = [
      base64url.decode(publicJwk.x), // the raw Ed25519 public key bytes
      new TextEncoder().encode(JSON.stringify(publicJwk)), // the JWKS entry as served
    ];
    for (const secret of secrets) {
      const token = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid, typ: 'at+jwt' }).sign(secret);
      await expectRejected(tokens, token, 'unsupported algorithm');
    }
  });

  it('rejects an expired token, allowing for clock skew', async () => {
    const expired = now() - 60;
    await expectRejected(tokens, await craft(jwk, { claims: { iat: expired - TTL, nbf: expired - TTL, exp: expired } }), 'expired');
    // Within the default 30 s tolerance: still accepted.
    const lately = now() - 10;
    await expect(tokens.verify(await craft(jwk, { claims: { iat: lately - TTL, nbf: lately - TTL, exp: lately } }))).resolves.toMatchObject({ sub: USER });
  });

  it('rejects a token that lives longer than the configured lifetime, whoever signed it', async () => {
    const iat = now();
    // Signed with the server's own key: a ten-year token is refused like a forged one.
    await expectRejected(tokens, await craft(jwk, { claims: { iat, nbf: iat, exp: iat + 10 * 365 * 86_400 } }), 'lifetime too long');
    // The configured lifetime plus the 30 s clock tolerance, and not a second more.
    await expect(tokens.verify(await craft(jwk, { claims: { iat, nbf: iat, exp: iat + TTL + CLOCK_TOLERANCE_SECONDS } }))).resolves.toMatchObject({ sub: USER });
    await expectRejected(tokens, await craft(jwk, { claims: { iat, nbf: iat, exp: iat + TTL + CLOCK_TOLERANCE_SECONDS + 1 } }), 'lifetime too long');
    // A token signed under a longer lifetime is refused once the server's is lowered.
    const longer = new AccessTokens(keys, { issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 4 * TTL });
    const { token } = await longer.sign({ sub: USER, ver: 0 });
    await expect(longer.verify(token)).resolves.toMatchObject({ sub: USER });
    await expectRejected(tokens, token, 'lifetime too long');
  });

  it('rejects a token issued in the future, allowing for clock skew', async () => {
    const nbf = now() - 5;
    const later = now() + 120;
    await expectRejected(tokens, await craft(jwk, { claims: { iat: later, nbf, exp: later + TTL } }), 'issued in the future');
    const soon = now() + 10;
    await expect(tokens.verify(await craft(jwk, { claims: { iat: soon, nbf, exp: soon + TTL } }))).resolves.toMatchObject({ sub: USER });
  });

  it('rejects a token that is not valid yet', async () => {
    const nbf = now() + 120;
    await expectRejected(tokens, await craft(jwk, { claims: { iat: nbf, nbf, exp: nbf + TTL } }), 'not yet valid');
  });

  it('rejects a wrong issuer or audience', async () => {
    await expectRejected(tokens, await craft(jwk, { claims: { iss: 'https://evil.test' } }), 'wrong issuer');
    await expectRejected(tokens, await craft(jwk, { claims: { aud: 'another-api' } }), 'wrong audience');
  });

  it('rejects an unknown or missing kid', async () => {
    await expectRejected(tokens, await craft(jwk, { header: { kid: 'no-such-key' } }), 'unknown key');
    await expectRejected(tokens, await craft(jwk, { header: { kid: undefined } }), 'unknown key');
  });

  it('rejects a payload edited after signing', async () => {
    const { token } = await tokens.sign({ sub: USER, ver: 1 });
    const [header, payload, signature] = token.split('.');
    const edited = encodeSegment({ ...decodeSegment(payload), sub: randomUUID(), ver: 2 });
    await expectRejected(tokens, `${header}.${edited}.${signature}`, 'bad signature');
  });

  it('rejects a token of another type', async () => {
    await expectRejected(tokens, await craft(jwk, { header: { typ: 'JWT' } }), 'wrong type');
    await expectRejected(tokens, await craft(jwk, { header: { typ: undefined } }), 'wrong type');
  });

  it('rejects a token signed by a different key that claims the same kid', async () => {
    const impostor = { ...(await privateJwk('EdDSA')), kid: jwk.kid };
    await expectRejected(tokens, await craft(impostor), 'bad signature');
  });

  it('rejects missing registered claims and malformed custom claims', async () => {
    for (const claim of ['jti', 'exp', 'iat', 'nbf', 'sub']) {
      await expectRejected(tokens, await craft(jwk, { omit: [claim] }), 'malformed');
    }
    await expectRejected(tokens, await craft(jwk, { omit: ['ver'] }), 'malformed');
    await expectRejected(tokens, await craft(jwk, { claims: { ver: -1 } }), 'malformed');
    await expectRejected(tokens, await craft(jwk, { claims: { ver: '1' } }), 'malformed');
    await expectRejected(tokens, await craft(jwk, { claims: { sub: 'admin' } }), 'malformed');
    await expectRejected(tokens, await craft(jwk, { claims: { sid: 42 } }), 'malformed');
  });

  it('rejects garbage without leaking jose messages', async () => {
    for (const garbage of ['', 'abc', 'a.b', 'a.b.c', '...', `${'a'.repeat(9000)}.b.c`]) {
      await expectRejected(tokens, garbage, 'malformed');
    }
  });

  it('keeps the underlying error as cause', async () => {
    const error = await rejection(tokens.verify(await craft(jwk, { claims: { iss: 'https://evil.test' } })));
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('rotates keys without invalidating tokens signed by the old key', async () => {
    const oldJwk = await privateJwk('EdDSA');
    const newJwk = await privateJwk('EdDSA');
    const before = tokensWith(await keysFrom(oldJwk));
    const { token: oldToken } = await before.sign({ sub: USER, ver: 0 });

    const rotatedKeys = await keysFrom(oldJwk, newJwk);
    const rotated = tokensWith(rotatedKeys);
    expect(rotatedKeys.signingKid).toBe(newJwk.kid);
    expect(rotatedKeys.publicJwks.keys.map((key) => key.kid)).toEqual([oldJwk.kid, newJwk.kid]);
    await expect(rotated.verify(oldToken)).resolves.toMatchObject({ sub: USER });
    const { token: newToken } = await rotated.sign({ sub: USER, ver: 0 });
    expect(decodeProtectedHeader(newToken).kid).toBe(newJwk.kid);
    // The server that has not been redeployed yet does not know the new key.
    await expectRejected(before, newToken, 'unknown key');

    // Once the old key is dropped, its tokens stop verifying.
    const after = tokensWith(await keysFrom(newJwk));
    await expectRejected(after, oldToken, 'unknown key');
    await expect(after.verify(newToken)).resolves.toMatchObject({ sub: USER });
  });

  it('works with ES256 keys, alone and mixed with EdDSA', async () => {
    const ecJwk = await privateJwk('ES256');
    const es = tokensWith(await keysFrom(ecJwk));
    const { token } = await es.sign({ sub: USER, ver: 5 });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: ecJwk.kid });
    await expect(es.verify(token)).resolves.toMatchObject({ sub: USER, ver: 5 });

    const mixed = tokensWith(await keysFrom(jwk, ecJwk));
    await expect(mixed.verify(token)).resolves.toMatchObject({ ver: 5 });
    // A token must use its key's algorithm: an ES256 token naming the EdDSA key's kid fails.
    await expectRejected(mixed, await craft({ ...ecJwk, kid: jwk.kid }), 'unsupported algorithm');
    // With only EdDSA keys configured, ES256 is not on the allow-list at all.
    await expectRejected(tokens, await craft({ ...ecJwk, kid: jwk.kid }), 'unsupported algorithm');
  });
});

describe('looksLikeJwt and unverifiedIssuer', () => {
  it('recognises the compact JWS shape only', () => {
    expect(looksLikeJwt('eyJh.eyJz.c2ln')).toBe(true);
    expect(looksLikeJwt('mk_live_abc123')).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
    expect(looksLikeJwt('a..c')).toBe(false);
    expect(looksLikeJwt('a.b.c.d')).toBe(false);
    expect(looksLikeJwt('a+b.c/d.e=')).toBe(false);
  });

  it('reads iss without verifying and never throws', async () => {
    const jwk = await privateJwk();
    expect(unverifiedIssuer(await craft(jwk))).toBe(ISSUER);
    expect(unverifiedIssuer(await craft(jwk, { omit: ['iss'] }))).toBeUndefined();
    expect(unverifiedIssuer(`${encodeSegment({ alg: 'none' })}.${encodeSegment({ iss: 42 })}.x`)).toBeUndefined();
    expect(unverifiedIssuer(`${encodeSegment({ alg: 'none' })}.${encodeSegment('just a string')}.x`)).toBeUndefined();
    expect(unverifiedIssuer(`${encodeSegment({ alg: 'none' })}.${base64url.encode('{not json')}.x`)).toBeUndefined();
    expect(unverifiedIssuer('not a token')).toBeUndefined();
    expect(unverifiedIssuer('')).toBeUndefined();
  });
});

describe('loadSigningKeys', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'marketplace-keys-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loadError(jwksJson: string): Promise<SigningKeysError> {
    try {
      await loadSigningKeys({ jwksJson, keyFile: path.join(dir, 'unused.json'), allowGenerate: true });
    } catch (error) {
      expect(error).toBeInstanceOf(SigningKeysError);
      return error as SigningKeysError;
    }
    throw new Error('expected loadSigningKeys to fail');
  }

  it('rejects a symmetric key without printing it', async () => {
    const secret = base64url.encode('a very secret hmac key of 32 bytes!');
    const error = await loadError(setOf({ kty: 'oct', k: secret, kid: 'hmac', alg: 'HS256' }));
    expect(error.message).toMatch(/symmetric/);
    expect(error.message).not.toContain(secret);
  });

  it('rejects a public-only key', async () => {
    const { d: _d, ...publicOnly } = await privateJwk();
    expect((await loadError(setOf(publicOnly))).message).toMatch(/public key/);
  });

  it('rejects RSA keys, missing kid or alg, duplicate kids and bad JSON, never echoing key material', async () => {
    const jwk = await privateJwk();
    const cases: Array<[string, RegExp]> = [
      [setOf({ kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB', kid: 'r', alg: 'RS256' }), /RSA/],
      [setOf({ ...jwk, kid: undefined }), /no "kid"/],
      [setOf({ ...jwk, alg: undefined }), /no "alg"/],
      [setOf({ ...jwk, alg: 'ES256' }), /needs kty "EC"/],
      [setOf(jwk, { ...(await privateJwk()), kid: jwk.kid }), /repeats kid/],
      [setOf({ ...jwk, use: 'enc' }), /"use"/],
      [setOf({ ...jwk, x: (await privateJwk()).x }), /not a valid|does not match/],
      [setOf(), /no keys/],
      [JSON.stringify({ keys: 'nope' }), /"keys" array/],
      [`{"keys": [{"d": "${jwk.d ?? ''}"`, /JSON JWK set/],
    ];
    for (const [json, message] of cases) {
      const error = await loadError(json);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(jwk.d);
    }
  });

  it('publishes public members only', async () => {
    const ed = await privateJwk('EdDSA');
    const ec = await privateJwk('ES256');
    const keys = await keysFrom(ed, ec);
    expect(keys.publicJwks.keys).toHaveLength(2);
    for (const key of keys.publicJwks.keys) {
      expect(key).not.toHaveProperty('d');
      expect(key).toMatchObject({ kid: expect.any(String), alg: expect.any(String), use: 'sig' });
    }
    const published = JSON.stringify(keys.publicJwks);
    expect(published).not.toContain(ed.d);
    expect(published).not.toContain(ec.d);
    expect(keys.signingKid).toBe(ec.kid);
    expect(keys.signingAlg).toBe('ES256');
    expect([...keys.verifyKeys.keys()]).toEqual([ed.kid, ec.kid]);
  });

  it('generates a development key file once, privately, and reuses it', async () => {
    const keyFile = path.join(dir, 'nested', 'dev', 'jwt-keys.json');
    const first = await loadSigningKeys({ jwksJson: undefined, keyFile, allowGenerate: true });
    expect(first.origin).toBe('generated');
    expect(first.signingAlg).toBe('EdDSA');
    if (process.platform !== 'win32') expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(await readdir(path.dirname(keyFile))).toEqual(['jwt-keys.json']);

    const second = await loadSigningKeys({ jwksJson: undefined, keyFile, allowGenerate: true });
    expect(second.origin).toBe('key-file');
    expect(second.signingKid).toBe(first.signingKid);
    const { token } = await tokensWith(first).sign({ sub: USER, ver: 0 });
    await expect(tokensWith(second).verify(token)).resolves.toMatchObject({ sub: USER });
  });

  it('agrees on one key when two loaders race to create the file', async () => {
    const keyFile = path.join(dir, 'race', 'jwt-keys.json');
    const [a, b] = await Promise.all([
      loadSigningKeys({ jwksJson: undefined, keyFile, allowGenerate: true }),
      loadSigningKeys({ jwksJson: undefined, keyFile, allowGenerate: true }),
    ]);
    expect(a.signingKid).toBe(b.signingKid);
    expect(await readdir(path.dirname(keyFile))).toEqual(['jwt-keys.json']);
  });

  it('prefers the configured set and refuses to generate when not allowed', async () => {
    const jwk = await privateJwk();
    const keyFile = path.join(dir, 'never-created.json');
    const keys = await loadSigningKeys({ jwksJson: setOf(jwk), keyFile, allowGenerate: true });
    expect(keys.origin).toBe('configured');
    expect(keys.signingKid).toBe(jwk.kid);
    await expect(stat(keyFile)).rejects.toThrow();
    await expect(loadSigningKeys({ jwksJson: undefined, keyFile, allowGenerate: false })).rejects.toThrow(SigningKeysError);
  });
});
