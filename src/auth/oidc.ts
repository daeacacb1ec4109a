/**
 * Verification of tokens issued by an external OpenID Connect / OAuth 2.0
 * provider (config `oidc`: issuer, audience, JWKS URL).
 *
 * The provider's keys are fetched from its JWKS URL by jose's remote key set,
 * created once per verifier so the keys are cached across requests: it
 * refetches when the cache is older than 10 minutes, or when a token names an
 * unknown `kid` (the provider rotated) and the last fetch is more than 30 s
 * old, which keeps a flood of bogus `kid`s from hammering the provider.
 *
 * The provider's token lifetimes are kept, up to OIDC_MAX_TOKEN_LIFETIME_SECONDS:
 * a token that claims a longer one (`exp - iat`, or `exp - now` without
 * `iat`), or an `iat` in the future, is refused (with the clock tolerance).
 */
import { createRemoteJWKSet, errors, jwtVerify, type CompactJWSHeaderParameters, type CryptoKey, type FlattenedJWSInput, type JWTPayload, type RemoteJWKSet } from 'jose';

import { checkLifetime, CLOCK_TOLERANCE_SECONDS, InvalidTokenError, looksLikeJwt, toInvalidTokenError } from './access-tokens.js';

export interface OidcVerifierOptions {
  /** Expected `iss`, exactly as the provider writes it. */
  issuer: string;
  /** Expected `aud` (one of them, when the token has several). */
  audience: string;
  /** The provider's JWKS URL (`jwks_uri` of its discovery document). */
  jwksUrl: string;
  /** Allowed clock skew for exp/nbf. Default 30. */
  clockToleranceSeconds?: number;
}

/** Who the provider says the token's holder is. Link accounts by (issuer, subject), never by email alone. */
export interface OidcIdentity {
  issuer: string;
  /** The provider's stable user id (`sub`, 1–255 characters). */
  subject: string;
  email?: string;
  /** True only when the provider asserts `email_verified`. */
  emailVerified: boolean;
  name?: string;
}

/**
 * Asymmetric algorithms only: with an HMAC algorithm, anyone holding the
 * provider's (public) JWKS could forge tokens.
 */
const OIDC_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

const MAX_TOKEN_LENGTH = 16_384;

/**
 * Longest lifetime accepted for a provider token: 24 hours, the longest
 * default access-token lifetime of the common providers (Auth0's; Entra ID,
 * Google, Okta and Cognito issue one hour).
 */
export const OIDC_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/** Verifies tokens from one external OpenID Connect provider. */
export class OidcVerifier {
  readonly issuer: string;
  private readonly audience: string;
  private readonly clockToleranceSeconds: number;
  private readonly jwks: RemoteJWKSet;

  constructor(options: OidcVerifierOptions) {
    this.issuer = options.issuer;
    this.audience = options.audience;
    const tolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError('clockToleranceSeconds must be a non-negative number');
    this.clockToleranceSeconds = tolerance;
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
      cacheMaxAge: 10 * 60_000,
      cooldownDuration: 30_000,
      timeoutDuration: 5_000,
    });
  }

  /**
   * Verifies a provider token: signature by a key from the provider's JWKS,
   * asymmetric algorithm, iss, aud, exp (required) and nbf with clock
   * tolerance, a lifetime of at most OIDC_MAX_TOKEN_LIFETIME_SECONDS, and a `sub`.
   *
   * @throws InvalidTokenError for any token that must not be accepted; reason
   *   'key set unavailable' when the JWKS could not be fetched (a server-side
   *   problem to log, not the client's fault).
   */
  async verify(token: string): Promise<OidcIdentity> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) {
      throw new InvalidTokenError('malformed');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.resolveKey, {
        algorithms: OIDC_ALGORITHMS,
        issuer: this.issuer,
        audience: this.audience,
        clockTolerance: this.clockToleranceSeconds,
        requiredClaims: ['iss', 'aud', 'sub', 'exp'],
      }));
    } catch (error) {
      throw toInvalidTokenError(error);
    }
    const { iss, sub, iat, exp } = payload;
    if (typeof iss !== 'string' || typeof sub !== 'string' || sub === '' || sub.length > 255 || typeof exp !== 'number') {
      throw new InvalidTokenError('malformed');
    }
    checkLifetime({ iat, exp }, OIDC_MAX_TOKEN_LIFETIME_SECONDS, this.clockToleranceSeconds);
    const email: unknown = payload.email;
    const emailVerified: unknown = payload.email_verified;
    const name: unknown = payload.name;
    return {
      issuer: iss,
      subject: sub,
      ...(typeof email === 'string' && email !== '' && email.length <= 320 ? { email } : {}),
      // Some providers (e.g. Cognito) send the string "true".
      emailVerified: typeof email === 'string' && (emailVerified === true || emailVerified === 'true'),
      ...(typeof name === 'string' && name.trim() !== '' ? { name } : {}),
    };
  }

  /**
   * Wraps the remote key set so a token naming a key the provider does not
   * have ('unknown key') is told apart from the provider being unreachable
   * or answering garbage ('key set unavailable').
   */
  private readonly resolveKey = async (header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    try {
      return await this.jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw new InvalidTokenError('unknown key', { cause: error });
      }
      throw new InvalidTokenError('key set unavailable', { cause: error });
    }
  };
}
