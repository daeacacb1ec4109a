/**
 * Short-lived access tokens: JWTs this server signs and verifies itself.
 *
 * The header is `{ alg, kid, typ: 'at+jwt' }` (the RFC 9068 media type, so an
 * ID token or any other JWT signed by a shared key cannot pass as an access
 * token). The claims are the registered ones (iss, aud, sub, iat, nbf, exp,
 * jti) plus `ver`, the user's token version (bumped to revoke every access
 * token of a user at once), and optionally `sid`, the session (refresh-token
 * family) the token was issued for.
 *
 * A token's lifetime is bounded whoever signed it: `iat` is required, may not
 * be in the future, and `exp - iat` may not exceed the configured lifetime
 * (both with the clock tolerance), so a ten-year token signed with a leaked
 * or shared key is refused like a forged one. Lowering the lifetime thus
 * refuses tokens issued under a longer one; their clients refresh.
 *
 * Verification trusts nothing in the token before the signature checks out:
 * the algorithm must be one of the configured keys' algorithms (never `none`,
 * never HMAC, which would let the public key act as a secret), and the key is
 * chosen by `kid` from the configured set, never taken from the token.
 *
 * Every failure is an InvalidTokenError whose `reason` is short and safe to
 * show a client; jose's own error stays in `cause` for logs.
 */
import { randomUUID } from 'node:crypto';

import { errors, jwtVerify, SignJWT, type CryptoKey, type CompactJWSHeaderParameters, type JWTPayload } from 'jose';

import type { SigningAlgorithm, SigningKeys } from './signing-keys.js';

/** Why a token was rejected; short and safe to show a client. */
export type InvalidTokenReason =
  | 'malformed'
  | 'unsupported algorithm'
  | 'unknown key'
  | 'bad signature'
  | 'expired'
  | 'not yet valid'
  | 'wrong issuer'
  | 'wrong audience'
  | 'wrong type'
  /** `exp - iat` longer than the issuer's tokens ever live (plus clock tolerance). */
  | 'lifetime too long'
  /** `iat` later than now (beyond clock tolerance). */
  | 'issued in the future'
  /** OIDC only: the provider's JWKS could not be fetched. A server-side problem, worth logging as an error. */
  | 'key set unavailable';

/**
 * A token that must not be accepted. `message` is `Invalid token: <reason>`;
 * the underlying jose error, if any, is in `cause` (for logs, not clients).
 */
export class InvalidTokenError extends Error {
  constructor(
    readonly reason: InvalidTokenReason,
    options?: { cause?: unknown },
  ) {
    super(`Invalid token: ${reason}`, options);
    this.name = 'InvalidTokenError';
  }
}

/** What `sign` puts in a token besides the registered claims. */
export interface AccessTokenSubject {
  /** User id (UUID). */
  sub: string;
  /** The user's token version; tokens with an older version are revoked. */
  ver: number;
  /** Session (refresh-token family) id. */
  sid?: string;
}

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  /** User id (UUID). */
  sub: string;
  /** The user's token version at issue time (non-negative integer). */
  ver: number;
  /** Session id, when the token was issued for one. */
  sid?: string;
  /** Unique token id. */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
}

export interface AccessTokensOptions {
  /** `iss` to sign and require, e.g. `config.jwtIssuer`. */
  issuer: string;
  /** `aud` to sign and require, e.g. `config.jwtAudience`. */
  audience: string;
  /** Lifetime of a token, e.g. `config.accessTokenTtlSeconds`. */
  ttlSeconds: number;
  /** Allowed clock skew for exp/nbf/iat between servers, also added to the longest lifetime. Default {@link CLOCK_TOLERANCE_SECONDS}. */
  clockToleranceSeconds?: number;
}

/** Default clock skew allowed between the servers that sign and verify a token (exp, nbf, iat, lifetime). */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** The JWT `typ` header of access tokens (RFC 9068, section 2.1). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Longer input is rejected before any parsing; our tokens are a few hundred bytes. */
const MAX_TOKEN_LENGTH = 8192;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** How many verified tokens an AccessTokens keeps (the oldest goes first); a few hundred bytes each. */
export const VERIFIED_TOKENS_KEPT = 2048;

/** Signs and verifies this server's access tokens with a loaded key set. */
export class AccessTokens {
  /**
   * Tokens that passed verification, by their text, with their claims. All
   * that verification decides apart from time (signature, key, algorithm,
   * typ, iss, aud, the claims' shapes and the lifetime bound) is a function
   * of the text and of this instance's keys and options, so a client sending
   * the same token again skips the signature check; the time checks (exp,
   * nbf, iat, with the clock tolerance) run on every request.
   */
  private readonly verified = new Map<string, { claims: AccessTokenClaims; nbf: number }>();
  private readonly issuer: string;
  private readonly audience: string;
  private readonly ttlSeconds: number;
  private readonly clockToleranceSeconds: number;
  /** The configured keys' algorithms: the only ones a token may name. */
  private readonly algorithms: SigningAlgorithm[];

  constructor(
    private readonly keys: SigningKeys,
    options: AccessTokensOptions,
  ) {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new RangeError('ttlSeconds must be a positive integer');
    }
    const tolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError('clockToleranceSeconds must be a non-negative number');
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.ttlSeconds = options.ttlSeconds;
    this.clockToleranceSeconds = tolerance;
    this.algorithms = [...new Set([...keys.verifyKeys.values()].map((key) => key.alg))];
  }

  /**
   * Signs an access token for a user with the newest key.
   *
   * @throws TypeError when `sub` is not a UUID or `ver` not a non-negative
   *   integer (a programming error: such a token would never verify).
   */
  async sign(claims: AccessTokenSubject): Promise<{ token: string; expiresAt: Date }> {
    if (!UUID.test(claims.sub)) throw new TypeError('sub must be a UUID');
    if (!isVersion(claims.ver)) throw new TypeError('ver must be a non-negative integer');
    if (claims.sid !== undefined && !isSessionId(claims.sid)) throw new TypeError('sid must be a non-empty string of at most 255 characters');

    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSeconds;
    const token = await new SignJWT({ ver: claims.ver, ...(claims.sid === undefined ? {} : { sid: claims.sid }) })
      .setProtectedHeader({ alg: this.keys.signingAlg, kid: this.keys.signingKid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(claims.sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.keys.signingKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verifies an access token: signature by a configured key chosen by `kid`,
   * algorithm allow-list, `typ`, iss, aud, exp/nbf (with clock tolerance), the
   * lifetime (`iat` not in the future, `exp - iat` at most the configured
   * lifetime, with clock tolerance), and the shape of sub (UUID), ver, jti
   * and sid. Does NOT check `ver` against the
   * user's current token version; the caller does, with the database.
   *
   * @throws InvalidTokenError for any token that must not be accepted.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) {
      throw new InvalidTokenError('malformed');
    }
    const known = this.verified.get(token);
    if (known) {
      const now = Math.floor(Date.now() / 1000);
      const tolerance = this.clockToleranceSeconds;
      // jose's checks: expired when exp <= now - tolerance, not yet valid when nbf > now + tolerance; iat as checkLifetime.
      if (known.claims.exp > now - tolerance && known.nbf <= now + tolerance && known.claims.iat <= now + tolerance) return { ...known.claims };
      // Out of its time window: verified afresh, which says why.
      this.verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.resolveKey, {
        algorithms: this.algorithms,
        issuer: this.issuer,
        audience: this.audience,
        typ: ACCESS_TOKEN_TYPE,
        clockTolerance: this.clockToleranceSeconds,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'jti'],
      }));
    } catch (error) {
      throw toInvalidTokenError(error);
    }
    const claims = parseClaims(payload);
    checkLifetime(claims, this.ttlSeconds, this.clockToleranceSeconds);
    if (typeof payload.nbf === 'number') {
      if (this.verified.size >= VERIFIED_TOKENS_KEPT) {
        const oldest = this.verified.keys().next();
        if (!oldest.done) this.verified.delete(oldest.value);
      }
      this.verified.set(token, { claims: { ...claims }, nbf: payload.nbf });
    }
    return claims;
  }

  /**
   * Picks the verification key named by the header's `kid`. jose calls this
   * after checking `alg` against the allow-list; the key's own algorithm must
   * match too, so a token cannot make an ES256 key verify as something else.
   */
  private readonly resolveKey = (header: CompactJWSHeaderParameters): CryptoKey => {
    const kid = header.kid;
    if (typeof kid !== 'string' || kid === '') throw new InvalidTokenError('unknown key');
    const key = this.keys.verifyKeys.get(kid);
    if (key === undefined) throw new InvalidTokenError('unknown key');
    if (header.alg !== key.alg) throw new InvalidTokenError('unsupported algorithm');
    return key.key;
  };
}

/**
 * Whether `token` has the shape of a compact JWS (three non-empty base64url
 * segments), to tell an access token from an API key before verifying.
 */
export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWT.test(token);
}

/**
 * The `iss` claim of a JWT, read WITHOUT verifying anything, or undefined
 * when there is none or the token cannot be decoded. Only for routing a token
 * to the right verifier (this server's or the OIDC provider's); the verifier
 * then checks `iss` for real. Never throws.
 */
export function unverifiedIssuer(token: string): string | undefined {
  try {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) return undefined;
    const segment = token.split('.')[1];
    if (segment === undefined) return undefined;
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const iss = (payload as Record<string, unknown>).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Maps an error thrown during verification to an InvalidTokenError, keeping
 * the original as `cause`. Shared with the OIDC verifier.
 *
 * @internal
 */
export function toInvalidTokenError(error: unknown): InvalidTokenError {
  if (error instanceof InvalidTokenError) return error;
  return new InvalidTokenError(reasonFor(error), { cause: error });
}

function reasonFor(error: unknown): InvalidTokenReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'check_failed') {
      switch (error.claim) {
        case 'nbf':
          return 'not yet valid';
        case 'iss':
          return 'wrong issuer';
        case 'aud':
          return 'wrong audience';
        case 'typ':
          return 'wrong type';
      }
    }
    return 'malformed';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'unsupported algorithm';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'unknown key';
  // JWSInvalid, JWTInvalid, and TypeErrors from decoding or key checks.
  return 'malformed';
}

/**
 * Checks the claims jose does not know about. Registered claims are already
 * present (requiredClaims) and iss/aud/exp/nbf checked.
 */
function parseClaims(payload: JWTPayload): AccessTokenClaims {
  const { sub, jti, iat, exp } = payload;
  const ver: unknown = payload.ver;
  const sid: unknown = payload.sid;
  if (typeof sub !== 'string' || !UUID.test(sub)) throw new InvalidTokenError('malformed');
  if (!isVersion(ver)) throw new InvalidTokenError('malformed');
  if (typeof jti !== 'string' || jti === '' || jti.length > 255) throw new InvalidTokenError('malformed');
  if (typeof iat !== 'number' || typeof exp !== 'number') throw new InvalidTokenError('malformed');
  if (sid !== undefined && !isSessionId(sid)) throw new InvalidTokenError('malformed');
  return { sub, ver, ...(sid === undefined ? {} : { sid }), jti, iat, exp };
}

/**
 * Refuses a token that claims to be issued in the future or to live longer
 * than `maxLifetimeSeconds` (both with `toleranceSeconds` of clock skew).
 * Without `iat` the lifetime is counted from now. Shared with the OIDC
 * verifier.
 *
 * @internal
 */
export function checkLifetime(
  { iat, exp }: { iat?: number | undefined; exp: number },
  maxLifetimeSeconds: number,
  toleranceSeconds: number,
  now: number = Math.floor(Date.now() / 1000),
): void {
  if (iat !== undefined && iat > now + toleranceSeconds) throw new InvalidTokenError('issued in the future');
  if (exp - (iat ?? now) > maxLifetimeSeconds + toleranceSeconds) throw new InvalidTokenError('lifetime too long');
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 255;
}
