import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

import { InvalidTokenError, type InvalidTokenReason } from '../../src/auth/access-tokens.js';
import { OIDC_MAX_TOKEN_LIFETIME_SECONDS, OidcVerifier } from '../../src/auth/oidc.js';

const ISSUER = 'https://id.provider.test/';
const AUDIENCE = 'marketplace-client-id';
const KID = 'provider-key-1';

describe('OidcVerifier', () => {
  let server: Server;
  let jwksUrl: string;
  let jwksRequests = 0;
  let privateKey: CryptoKey;
  let otherPrivateKey: CryptoKey;
  let verifier: OidcVerifier;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    ({ privateKey: otherPrivateKey } = await generateKeyPair('RS256'));
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' }] });

    server = createServer((request, response) => {
      if (request.url === '/jwks') {
        jwksRequests += 1;
        response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
  });

  afterAll(async () => {
    // fetch keeps connections alive; close them or close() waits for them.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  /** A provider token; `claims` override the defaults (undefined drops one). */
  async function providerToken(
    options: { claims?: JWTPayload; key?: CryptoKey | Uint8Array; kid?: string; alg?: string; exp?: number } = {},
  ): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'provider-user-1',
      iat,
      exp: options.exp ?? iat + 300,
      email: 'ada@example.test',
      email_verified: true,
      name: 'Ada Lovelace',
      ...options.claims,
    };
    return new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? KID }).sign(options.key ?? privateKey);
  }

  async function expectRejected(token: string, reason: InvalidTokenReason, by: OidcVerifier = verifier): Promise<void> {
    let caught: unknown;
    try {
      await by.verify(token);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidTokenError);
    expect((caught as InvalidTokenError).reason).toBe(reason);
  }

  it('verifies a provider token and returns who it is for', async () => {
    await expect(verifier.verify(await providerToken())).resolves.toEqual({
      issuer: ISSUER,
      subject: 'provider-user-1',
      email: 'ada@example.test',
      emailVerified: true,
      name: 'Ada Lovelace',
    });
  });

  it('reports an unverified or absent email as not verified', async () => {
    const unverified = await verifier.verify(await providerToken({ claims: { email_verified: false } }));
    expect(unverified).toMatchObject({ email: 'ada@example.test', emailVerified: false });
    const noEmail = await verifier.verify(await providerToken({ claims: { email: undefined, email_verified: true, name: undefined } }));
    expect(noEmail).toEqual({ issuer: ISSUER, subject: 'provider-user-1', emailVerified: false });
  });

  it('fetches the key set once and caches it across requests', async () => {
    const fresh = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    const before = jwksRequests;
    for (let i = 0; i < 3; i += 1) await fresh.verify(await providerToken());
    expect(jwksRequests - before).toBe(1);
  });

  it('rejects a wrong audience or issuer', async () => {
    await expectRejected(await providerToken({ claims: { aud: 'someone-else' } }), 'wrong audience');
    await expectRejected(await providerToken({ claims: { iss: 'https://evil.test/' } }), 'wrong issuer');
  });

  it('rejects an expired token', async () => {
    await expectRejected(await providerToken({ exp: Math.floor(Date.now() / 1000) - 120 }), 'expired');
  });

  it(`keeps the provider's lifetimes up to ${OIDC_MAX_TOKEN_LIFETIME_SECONDS / 3600} hours, with or without iat`, async () => {
    const now = Math.floor(Date.now() / 1000);
    const day = OIDC_MAX_TOKEN_LIFETIME_SECONDS;
    await expect(verifier.verify(await providerToken({ claims: { iat: now, exp: now + day } }))).resolves.toMatchObject({ subject: 'provider-user-1' });
    await expectRejected(await providerToken({ claims: { iat: now, exp: now + day + 31 } }), 'lifetime too long');
    await expectRejected(await providerToken({ claims: { iat: now, exp: now + 10 * 365 * day } }), 'lifetime too long');
    // Without iat the lifetime left counts: exp at most a day (and the tolerance) from now.
    await expect(verifier.verify(await providerToken({ claims: { iat: undefined, exp: now + 3600 } }))).resolves.toMatchObject({ subject: 'provider-user-1' });
    await expectRejected(await providerToken({ claims: { iat: undefined, exp: now + 2 * day } }), 'lifetime too long');
    await expectRejected(await providerToken({ claims: { iat: now + 600, exp: now + 900 } }), 'issued in the future');
  });

  it('rejects a token signed by a key that is not in the key set', async () => {
    await expectRejected(await providerToken({ key: otherPrivateKey, kid: 'not-published' }), 'unknown key');
    await expectRejected(await providerToken({ key: otherPrivateKey }), 'bad signature');
  });

  it('rejects symmetric algorithms and a missing sub', async () => {
    const secret = new TextEncoder().encode('a shared secret that is long enough!');
    await expectRejected(await providerToken({ alg: 'HS256', key: secret }), 'unsupported algorithm');
    await expectRejected(await providerToken({ claims: { sub: '' } }), 'malformed');
  });

  it('reports an unreachable key set distinctly', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: `http://127.0.0.1:${port}/jwks` });
    await expectRejected(await providerToken(), 'key set unavailable', unreachable);
  });
});
