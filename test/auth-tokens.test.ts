import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';
import { createAccount, logIn, type Account } from './helpers/auth.js';

/**
 * Attacks on access tokens over HTTP. The server's signing key is generated
 * here and handed to it through JWT_SIGNING_KEYS, so tests can forge tokens
 * that are wrong in exactly one way.
 */
let server: TestServer;
let account: Account;
let privateJwk: JWK & { kid: string };
let signingKey: CryptoKey;
let oidcServer: Server;
let oidcKey: CryptoKey;
let oidcKid: string;
let oidcIssuer: string;

const ISSUER = 'marketplace-api-test';
const AUDIENCE = 'marketplace-clients';
const VIEWER = '{ viewer { id email } }';

beforeAll(async () => {
  const jwks = await generateSigningJwks();
  privateJwk = (JSON.parse(jwks) as { keys: Array<JWK & { kid: string }> }).keys[0] as JWK & { kid: string };
  signingKey = (await importJWK(privateJwk, 'EdDSA')) as CryptoKey;

  // A stand-in OpenID Connect provider on loopback: it only serves its key set.
  const pair = await generateKeyPair('RS256');
  oidcKey = pair.privateKey;
  oidcKid = 'oidc-test-key';
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: oidcKid, alg: 'RS256', use: 'sig' };
  oidcServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => oidcServer.listen(0, '127.0.0.1', resolve));
  const { port } = oidcServer.address() as AddressInfo;
  oidcIssuer = `http://127.0.0.1:${port}/realms/test`;

  server = await startTestServer({
    env: {
      JWT_SIGNING_KEYS: jwks,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      OIDC_ISSUER: oidcIssuer,
      OIDC_AUDIENCE: 'marketplace-oidc',
      OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
      LOGIN_LIMIT_PER_EMAIL_IP: '3',
    },
  });
  account = await createAccount(server);
});

afterAll(async () => {
  await server.close();
  await new Promise<void>((resolve) => oidcServer.close(() => resolve()));
});

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A correctly signed token for the account, with any claim or header overridden. */
async function forge(overrides: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const userRow = await server.db.selectFrom('users').select('token_version').where('id', '=', account.user.id).executeTakeFirstOrThrow();
  const claims = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: account.user.id,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomUUID(),
    ver: userRow.token_version,
    ...overrides.claims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: privateJwk.kid, typ: 'at+jwt', ...overrides.header })
    .sign(signingKey);
}

async function expect401(res: Promise<GraphQLResult<unknown>>): Promise<void> {
  const result = await res;
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="marketplace-api", error="invalid_token"/);
  expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', requestId: result.headers.get('x-request-id') });
  expect(result.body.data).toBeUndefined();
}

const asBearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('access tokens', () => {
  it('accepts a token forged correctly with the server key (the control case)', async () => {
    const res = await server.graphql(VIEWER, undefined, { headers: asBearer(await forge()) });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ viewer: { id: expect.any(String), email: account.email } });
  });

  it('publishes the public signing keys, without private parts, at /.well-known/jwks.json', async () => {
    const res = await server.request('/.well-known/jwks.json');
    const body = (await res.json()) as { keys: JWK[] };
    expect(body.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, kid: privateJwk.kid, alg: 'EdDSA', use: 'sig' }]);
    expect(JSON.stringify(body)).not.toContain('"d"');
  });

  it('rejects alg: none', async () => {
    const good = await forge();
    const [, payload] = good.split('.');
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(`${base64url({ alg: 'none', typ: 'at+jwt', kid: privateJwk.kid })}.${payload}.`) }));
  });

  it('rejects an HS256 token whose HMAC secret is the public key', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const secret of [Buffer.from(privateJwk.x as string, 'base64url'), Buffer.from(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x }))]) {
      const token = await new SignJWT({ ver: 0 })
        .setProtectedHeader({ alg: 'HS256', kid: privateJwk.kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(account.user.id)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .setJti(randomUUID())
        .sign(new Uint8Array(secret));
      await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(token) }));
    }
  });

  it.each([
    ['expired', { claims: { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 4000, nbf: Math.floor(Date.now() / 1000) - 4000 } }],
    ['not yet valid', { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }],
    ['from another issuer', { claims: { iss: 'https://evil.example.com' } }],
    ['for another audience', { claims: { aud: 'someone-else' } }],
    ['signed with an unknown kid', { header: { kid: 'no-such-key' } }],
    ['of another token type', { header: { typ: 'JWT' } }],
    ['with a stale token version', { claims: { ver: 999 } }],
  ])('rejects a token %s', async (_name, overrides) => {
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(await forge(overrides)) }));
  });

  it('rejects a token whose payload was edited after signing', async () => {
    const [header, payload, signature] = (await forge()).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const edited = base64url({ ...claims, sub: randomUUID() });
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(`${header}.${edited}.${signature}`) }));
  });

  it('rejects a token signed with the server key that lives longer than ACCESS_TOKEN_TTL_SECONDS, or has no iat', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tenYears = await server.graphql(VIEWER, undefined, { headers: asBearer(await forge({ claims: { iat: now, nbf: now, exp: now + 10 * 365 * 86_400 } })) });
    await expect401(Promise.resolve(tenYears));
    expect(tenYears.headers.get('www-authenticate')).toContain('error_description="The access token is invalid (lifetime too long)."');
    // The configured lifetime and the 30 s clock tolerance are accepted; a second more is not.
    const ttl = server.config.accessTokenTtlSeconds;
    const atLimit = await server.graphql(VIEWER, undefined, { headers: asBearer(await forge({ claims: { iat: now, nbf: now, exp: now + ttl + 30 } })) });
    expect(atLimit.status).toBe(200);
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(await forge({ claims: { iat: now, nbf: now, exp: now + ttl + 31 } })) }));
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(await forge({ claims: { iat: undefined } })) }));
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(await forge({ claims: { iat: now + 3600, exp: now + 3600 + ttl } })) }));
  });

  it('rejects a token signed by another key that claims the server kid', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ver: 0 })
      .setProtectedHeader({ alg: 'EdDSA', kid: privateJwk.kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(account.user.id)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 600)
      .setJti(randomUUID())
      .sign(privateKey);
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(token) }));
  });
});

describe('external OpenID Connect tokens', () => {
  async function providerToken(subject: string, claims: Record<string, unknown> = {}, audience = 'marketplace-oidc'): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: `${subject}@idp.example.com`, email_verified: true, name: 'Olivia Idp', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: oidcKid })
      .setIssuer(oidcIssuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(oidcKey);
  }

  it('accepts a provider token and provisions the user once, by (issuer, subject)', async () => {
    const subject = `sub-${randomUUID()}`;
    const first = await server.graphql<{ viewer: { id: string; email: string } }>(VIEWER, undefined, { headers: asBearer(await providerToken(subject)) });
    expect(first.status).toBe(200);
    expect(first.body.data?.viewer.email).toBe(`${subject}@idp.example.com`);
    const again = await server.graphql<{ viewer: { id: string } }>(VIEWER, undefined, { headers: asBearer(await providerToken(subject)) });
    expect(again.body.data?.viewer.id).toBe(first.body.data?.viewer.id);
    const identities = await server.db.selectFrom('user_identities').selectAll().where('subject', '=', subject).execute();
    expect(identities).toHaveLength(1);
    const audit = await server.db.selectFrom('audit_events').select('action').where('actor_id', '=', identities[0]?.user_id as string).execute();
    expect(audit).toEqual([{ action: 'OIDC_USER_PROVISIONED' }]);
  });

  it('provisions concurrent first requests of one identity into a single account', async () => {
    const subject = `sub-${randomUUID()}`;
    const token = await providerToken(subject);
    const results = await Promise.all([1, 2, 3].map(() => server.graphql<{ viewer: { id: string } }>(VIEWER, undefined, { headers: asBearer(token) })));
    expect(new Set(results.map((r) => r.body.data?.viewer.id)).size).toBe(1);
  });

  it('does not take over an existing account through an unverified provider email', async () => {
    const subject = `sub-${randomUUID()}`;
    const res = await server.graphql<{ viewer: { id: string; email: string } }>(VIEWER, undefined, {
      headers: asBearer(await providerToken(subject, { email: account.email, email_verified: false })),
    });
    expect(res.body.data?.viewer.email).not.toBe(account.email);
    expect(res.body.data?.viewer.email).toMatch(/@oidc\.invalid$/);
  });

  it.each([
    { what: 'an ordinary name', name: '  Olivia Idp  ', shown: 'Olivia Idp' },
    { what: 'control characters (each run becomes a space)', name: 'Olivia\u0000Idp\n\tSmith\u0007', shown: 'Olivia Idp Smith' },
    { what: 'markup (the fallback name, not a stripped guess)', name: 'Olivia <img src=x onerror=alert(1)>', shown: 'New user' },
    { what: 'only control characters and spaces', name: ' \u0000\u001b ', shown: 'New user' },
    { what: '81 emoji (cut to 80 whole ones, no half surrogate pair)', name: '\u{1F600}'.repeat(81), shown: '\u{1F600}'.repeat(80) },
  ])('signs in with a provider name holding $what, provisioning a display name the display-name rule accepts', async ({ name, shown }) => {
    const subject = `sub-${randomUUID()}`;
    const res = await server.graphql<{ viewer: { displayName: string } }>('{ viewer { displayName } }', undefined, { headers: asBearer(await providerToken(subject, { name })) });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.viewer.displayName).toBe(shown);
    const identity = await server.db.selectFrom('user_identities').select('user_id').where('subject', '=', subject).executeTakeFirstOrThrow();
    const row = await server.db.selectFrom('users').select('display_name').where('id', '=', identity.user_id).executeTakeFirstOrThrow();
    expect(row.display_name).toBe(shown);
  });

  it('rejects a provider token that claims to live longer than a day', async () => {
    const now = Math.floor(Date.now() / 1000);
    const longLived = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: oidcKid })
      .setIssuer(oidcIssuer)
      .setAudience('marketplace-oidc')
      .setSubject('long-lived')
      .setIssuedAt(now)
      .setExpirationTime(now + 30 * 86_400)
      .sign(oidcKey);
    const res = await server.graphql(VIEWER, undefined, { headers: asBearer(longLived) });
    await expect401(Promise.resolve(res));
    expect(res.headers.get('www-authenticate')).toContain('(lifetime too long)');
  });

  it('rejects a provider token for another audience or signed by an unknown key', async () => {
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(await providerToken('x', {}, 'other-api')) }));
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const rogue = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: oidcKid })
      .setIssuer(oidcIssuer)
      .setAudience('marketplace-oidc')
      .setSubject('rogue')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    await expect401(server.graphql(VIEWER, undefined, { headers: asBearer(rogue) }));
  });
});

describe('brute-force limits', () => {
  it('answers RATE_LIMITED with 429 and Retry-After once the (email, IP) budget is spent, without checking the password', async () => {
    const target = await createAccount(server);
    for (let i = 0; i < 3; i += 1) {
      const res = await logIn(server, target.email, `wrong password ${i}`);
      expect(res.body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    }
    // Even the right password is refused now.
    const limited = await logIn(server, target.email, target.password);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    // Another account from the same IP is unaffected.
    const other = await createAccount(server);
    expect((await logIn(server, other.email, other.password)).body.data?.logIn.userErrors).toEqual([]);
  });
});
