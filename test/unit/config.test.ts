import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('has development defaults that need no variables', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      databaseUrl: undefined,
      graphqlSandbox: true,
      graphqlIntrospection: true,
      seedDemoData: true,
      logFormat: 'pretty',
    });
  });

  it('turns development conveniences off in production', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SIGNING_KEYS: '{"keys":[]}' })).toMatchObject({
      graphqlSandbox: false,
      graphqlIntrospection: false,
      seedDemoData: false,
      logFormat: 'json',
    });
  });

  it('names every bad variable at once and never echoes a database URL', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '99999', NODE_ENV: 'staging', GRAPHQL_SANDBOX: 'maybe', DATABASE_URL: 'mysql://root:hunter2@db/x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'NODE_ENV', 'GRAPHQL_SANDBOX', 'DATABASE_URL']) expect(message).toContain(name);
    expect(message).not.toContain('hunter2');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('requires signing keys in production and all three OIDC settings together', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SIGNING_KEYS must be set in production/);
    expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example.com' })).toThrow(/must be set together/);
    expect(loadConfig({ OIDC_ISSUER: 'https://id.example.com', OIDC_AUDIENCE: 'api', OIDC_JWKS_URL: 'https://id.example.com/jwks' }).oidc).toEqual({
      issuer: 'https://id.example.com',
      audience: 'api',
      jwksUrl: 'https://id.example.com/jwks',
    });
    expect(() => loadConfig({ JWT_SIGNING_KEYS: 'not json' })).toThrow(/JWT_SIGNING_KEYS must be valid JSON/);
    expect(() => loadConfig({ REDIS_URL: 'http://localhost' })).toThrow(/REDIS_URL/);
  });

  it('accepts a postgres URL and numeric limits', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', DATABASE_POOL_MAX: '25', PORT: '0' });
    expect(config).toMatchObject({ databaseUrl: 'postgres://u:p@db:5432/app', databasePoolMax: 25, port: 0 });
  });

  it('reads the query limits and budgets, and refuses combinations that cannot work', () => {
    expect(loadConfig({ QUERY_MAX_DEPTH: '8', RATE_LIMIT_BUDGET: '20000', QUERY_MAX_COST: '5000' })).toMatchObject({
      queryLimits: { maxDepth: 8, maxAliases: 30, maxDirectives: 20, maxTokens: 2000, maxBytes: 32768, maxCost: 5000 },
      rateLimit: { budget: 20000, windowSeconds: 3600 },
      persistedQueries: true,
      trustedDocumentsFile: undefined,
    });
    expect(() => loadConfig({ RATE_LIMIT_BUDGET: '100' })).toThrow(/QUERY_MAX_COST must not exceed RATE_LIMIT_BUDGET/);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HEADERS_TIMEOUT_MS must not exceed/);
    expect(() => loadConfig({ QUERY_MAX_TOKENS: '10' })).toThrow(/QUERY_MAX_TOKENS must be an integer from 100/);
  });
});
