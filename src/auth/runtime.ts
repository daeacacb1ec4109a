import type { Config } from '../config/config.js';
import { createBruteForceLimiter, type BruteForceLimiter } from '../rate-limit/brute-force.js';
import { closeRedisClient, createRedisClient, type Redis } from '../redis/client.js';
import { AccessTokens } from './access-tokens.js';
import { OidcVerifier } from './oidc.js';
import { loadSigningKeys, type SigningKeys } from './signing-keys.js';

/**
 * Everything authentication needs that lives as long as the server: signing
 * keys, the token issuer/verifier, the optional OIDC verifier (with its
 * cached remote key set), the brute-force limiter and settings.
 */
export interface AuthRuntime {
  keys: SigningKeys;
  tokens: AccessTokens;
  oidc: OidcVerifier | undefined;
  limiter: BruteForceLimiter;
  refreshTokenTtlDays: number;
  /** Closes the Redis client of the limiter when the runtime made it (not one passed in). */
  close(): Promise<void>;
}

export interface AuthRuntimeOptions {
  /** A shared Redis client (owned by the caller). Absent: one is made from `config.redisUrl`, when set, and closed with the runtime. */
  redis?: Redis;
}

export async function createAuthRuntime(config: Config, options: AuthRuntimeOptions = {}): Promise<AuthRuntime> {
  const keys = await loadSigningKeys({
    jwksJson: config.jwtSigningKeys,
    keyFile: config.jwtKeyFile,
    allowGenerate: config.nodeEnv !== 'production',
  });
  const tokens = new AccessTokens(keys, {
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.accessTokenTtlSeconds,
  });
  const oidc = config.oidc ? new OidcVerifier(config.oidc) : undefined;
  const ownRedis: Redis | undefined = options.redis === undefined && config.redisUrl ? createRedisClient(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs }) : undefined;
  const redis = options.redis ?? ownRedis;
  const limiter = createBruteForceLimiter({
    perEmailIp: config.loginLimitPerEmailIp,
    perIp: config.loginLimitPerIp,
    ...(redis ? { redis } : {}),
  });
  return {
    keys,
    tokens,
    oidc,
    limiter,
    refreshTokenTtlDays: config.refreshTokenTtlDays,
    close: async () => {
      await limiter.close();
      if (ownRedis) await closeRedisClient(ownRedis);
    },
  };
}
