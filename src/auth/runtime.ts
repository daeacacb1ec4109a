import type { Redis } from 'ioredis';

import type { Config } from '../config/config.js';
import { createBruteForceLimiter, closeRedisClient, createRedisClient, type BruteForceLimiter } from '../rate-limit/brute-force.js';
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
  /** Closes the Redis client of the limiter, when there is one. */
  close(): Promise<void>;
}

export async function createAuthRuntime(config: Config): Promise<AuthRuntime> {
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
  const redis: Redis | undefined = config.redisUrl ? createRedisClient(config.redisUrl) : undefined;
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
      if (redis) await closeRedisClient(redis);
    },
  };
}
