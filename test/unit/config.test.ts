import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '../../src/config/config.js';

const PROD_DB = 'postgres://app@db:5432/app';
const PROD = { NODE_ENV: 'production', JWT_SIGNING_KEYS: '{"keys":[]}', DATABASE_URL: PROD_DB };

describe('configuration', () => {
  it('has development defaults that need no variables', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      databaseUrl: undefined,
      graphqlIde: 'sandbox',
      graphqlIntrospection: true,
      seedDemoData: true,
      logFormat: 'pretty',
    });
  });

  it('turns development conveniences off in production', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SIGNING_KEYS: '{"keys":[]}', DATABASE_URL: PROD_DB })).toMatchObject({
      graphqlIde: 'off',
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

  it('gives Redis commands 1 s by default, 50 ms to 60 s when set', () => {
    expect(loadConfig({}).redisCommandTimeoutMs).toBe(1000);
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '250' }).redisCommandTimeoutMs).toBe(250);
    expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '10' })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
    expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '60001' })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
  });

  it('spaces webhook dispatch batches 50 ms apart by default, 0 to 10 s when set', () => {
    expect(loadConfig({}).webhooks.dispatchIntervalMs).toBe(50);
    expect(loadConfig({ WEBHOOK_DISPATCH_INTERVAL_MS: '0' }).webhooks.dispatchIntervalMs).toBe(0);
    expect(() => loadConfig({ WEBHOOK_DISPATCH_INTERVAL_MS: '-1' })).toThrow(/WEBHOOK_DISPATCH_INTERVAL_MS/);
    expect(() => loadConfig({ WEBHOOK_DISPATCH_INTERVAL_MS: '10001' })).toThrow(/WEBHOOK_DISPATCH_INTERVAL_MS/);
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

  it('keeps serving for a drain delay that must fit in the shutdown budget, and allows no delay at all', () => {
    expect(loadConfig(PROD)).toMatchObject({ shutdownDrainDelayMs: 5000, shutdownTimeoutMs: 10000 });
    expect(loadConfig({})).toMatchObject({ shutdownDrainDelayMs: 0, shutdownTimeoutMs: 10000 });
    expect(loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '0' })).toMatchObject({ shutdownDrainDelayMs: 0, shutdownTimeoutMs: 0 });
    expect(loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '14999', SHUTDOWN_TIMEOUT_MS: '15000' })).toMatchObject({ shutdownDrainDelayMs: 14999 });
    expect(() => loadConfig({ ...PROD, SHUTDOWN_TIMEOUT_MS: '5000' })).toThrow(
      'SHUTDOWN_DRAIN_DELAY_MS (5000) must be less than SHUTDOWN_TIMEOUT_MS (5000): the delay is the first part of the shutdown budget',
    );
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '20000' })).toThrow(/raise SHUTDOWN_TIMEOUT_MS or lower SHUTDOWN_DRAIN_DELAY_MS \(0 turns the delay off\)/);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '-1' })).toThrow(/SHUTDOWN_DRAIN_DELAY_MS must be an integer from 0/);
  });

  it('validates HOST as an IP address or host name', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::' }).host).toBe('::');
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(loadConfig({ HOST: 'api.internal' }).host).toBe('api.internal');
    for (const bad of ['http://0.0.0.0', '0.0.0.0:4000', 'local host', '-bad-', '999.1.1.1', '10.0.0']) {
      expect(() => loadConfig({ HOST: bad })).toThrow(/HOST must be an IP address/);
    }
  });

  it('chooses the IDE with GRAPHQL_IDE, GRAPHQL_SANDBOX being the older switch', () => {
    expect(loadConfig({ GRAPHQL_IDE: 'graphiql' }).graphqlIde).toBe('graphiql');
    expect(loadConfig({ GRAPHQL_IDE: 'off' }).graphqlIde).toBe('off');
    expect(loadConfig({ GRAPHQL_SANDBOX: 'false' }).graphqlIde).toBe('off');
    expect(loadConfig({ NODE_ENV: 'test', GRAPHQL_SANDBOX: 'true' }).graphqlIde).toBe('sandbox');
    expect(() => loadConfig({ GRAPHQL_IDE: 'playground' })).toThrow(/GRAPHQL_IDE must be one of sandbox, graphiql, off/);
  });

  it('reads secrets from <NAME>_FILE, refusing both forms at once and unreadable files, without echoing content', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
    try {
      const keys = path.join(dir, 'jwt.json');
      writeFileSync(keys, '{"keys":[]}\n');
      const url = path.join(dir, 'db-url');
      writeFileSync(url, 'postgres://app:s3cret@db:5432/app\n');
      const config = loadConfig({ NODE_ENV: 'production', JWT_SIGNING_KEYS_FILE: keys, DATABASE_URL_FILE: url });
      expect(config.jwtSigningKeys).toBe('{"keys":[]}');
      expect(config.databaseUrl).toBe('postgres://app:s3cret@db:5432/app');
      expect(() => loadConfig({ DATABASE_URL_FILE: url, DATABASE_URL: 'postgres://x@y/z' })).toThrow(/DATABASE_URL and DATABASE_URL_FILE are both set/);
      expect(() => loadConfig({ JWT_SIGNING_KEYS_FILE: path.join(dir, 'missing.json') })).toThrow(/JWT_SIGNING_KEYS_FILE names a file that cannot be read: .*missing\.json \(ENOENT\)/);
      writeFileSync(url, 'mysql://root:hunter2@db/x');
      let message = '';
      try {
        loadConfig({ DATABASE_URL_FILE: url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
      expect(message).not.toContain('hunter2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('configures metrics and tracing, off by default', () => {
    expect(loadConfig({})).toMatchObject({
      metrics: { token: undefined, port: undefined, host: '127.0.0.1' },
      tracing: { exporter: 'none', protocol: 'http/protobuf', serviceName: 'marketplace-api' },
    });
    expect(loadConfig({ METRICS_TOKEN: 'a-token-of-sixteen+', METRICS_PORT: '9464' }).metrics).toEqual({ token: 'a-token-of-sixteen+', port: 9464, host: '127.0.0.1' });
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing).toMatchObject({ exporter: 'otlp', protocol: 'http/json' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).tracing.exporter).toBe('otlp');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).tracing.exporter).toBe('none');
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER must be one of none, otlp, console/);
  });

  it('refuses to start in production without DATABASE_URL, naming it', () => {
    const { DATABASE_URL: _url, ...withoutUrl } = PROD;
    expect(() => loadConfig(withoutUrl)).toThrow(/DATABASE_URL must be set in production/);
    // An invalid URL is reported once, as invalid.
    let error: unknown;
    try {
      loadConfig({ ...withoutUrl, DATABASE_URL: 'mysql://x' });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual(['DATABASE_URL must be a postgres:// or postgresql:// URL']);
    expect(loadConfig(PROD).databaseUrl).toBe(PROD_DB);
  });

  it('refuses demo data in production, and seeds it by default only in development', () => {
    expect(() => loadConfig({ ...PROD, SEED_DEMO_DATA: 'true' })).toThrow(/SEED_DEMO_DATA=true is refused in production/);
    expect(loadConfig({ ...PROD, SEED_DEMO_DATA: 'false' }).seedDemoData).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).seedDemoData).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', SEED_DEMO_DATA: 'true' }).seedDemoData).toBe(true);
  });

  it('reports production problems together with the others', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', SEED_DEMO_DATA: 'yes', PORT: 'x' });
    } catch (caught) {
      error = caught;
    }
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'JWT_SIGNING_KEYS', 'DATABASE_URL', 'SEED_DEMO_DATA']) expect(problems).toContain(name);
  });

  it('gives one request at most half the pool by default, and never more than the pool', () => {
    expect(loadConfig({}).databasePoolMaxPerRequest).toBe(5);
    expect(loadConfig({ DATABASE_POOL_MAX: '1' }).databasePoolMaxPerRequest).toBe(1);
    expect(loadConfig({ DATABASE_POOL_MAX: '7' }).databasePoolMaxPerRequest).toBe(4);
    expect(loadConfig({ DATABASE_POOL_MAX: '20', DATABASE_POOL_MAX_PER_REQUEST: '20' }).databasePoolMaxPerRequest).toBe(20);
    expect(() => loadConfig({ DATABASE_POOL_MAX: '4', DATABASE_POOL_MAX_PER_REQUEST: '5' })).toThrow(
      /DATABASE_POOL_MAX_PER_REQUEST must be an integer from 1 to 4/,
    );
    expect(loadConfig({ DATABASE_CONNECT_TIMEOUT_MS: '250' }).databaseConnectTimeoutMs).toBe(250);
  });
  it('caches anonymous responses in memory by default, in Redis when REDIS_URL is set, and not at all in tests unless asked', () => {
    expect(loadConfig({}).responseCache).toEqual({
      mode: 'memory',
      ttlSeconds: 300,
      httpMaxAgeSeconds: 0,
      maxEntries: 10_000,
      maxBytes: 67_108_864,
      redisPrefix: 'marketplace-api:response-cache',
    });
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379' }).responseCache.mode).toBe('redis');
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379', RESPONSE_CACHE: 'memory' }).responseCache.mode).toBe('memory');
    expect(loadConfig({ NODE_ENV: 'test' }).responseCache.mode).toBe('off');
    expect(loadConfig({ NODE_ENV: 'test', RESPONSE_CACHE: 'memory' }).responseCache.mode).toBe('memory');
    expect(
      loadConfig({ RESPONSE_CACHE_TTL_SECONDS: '60', RESPONSE_CACHE_HTTP_MAX_AGE_SECONDS: '5', RESPONSE_CACHE_MAX_ENTRIES: '500', RESPONSE_CACHE_MAX_BYTES: '1048576' })
        .responseCache,
    ).toMatchObject({ ttlSeconds: 60, httpMaxAgeSeconds: 5, maxEntries: 500, maxBytes: 1_048_576 });
  });

  it('refuses a Redis response cache without Redis, and bad cache settings, naming each', () => {
    expect(() => loadConfig({ RESPONSE_CACHE: 'redis' })).toThrow(/RESPONSE_CACHE=redis needs REDIS_URL/);
    expect(() => loadConfig({ RESPONSE_CACHE: 'disk' })).toThrow(/RESPONSE_CACHE must be one of memory, redis, off/);
    expect(() => loadConfig({ RESPONSE_CACHE_TTL_SECONDS: '0' })).toThrow(/RESPONSE_CACHE_TTL_SECONDS must be an integer from 1/);
    expect(() => loadConfig({ RESPONSE_CACHE_MAX_BYTES: '1000' })).toThrow(/RESPONSE_CACHE_MAX_BYTES must be an integer from 65536/);
    expect(() => loadConfig({ RESPONSE_CACHE_REDIS_PREFIX: 'has spaces' })).toThrow(/RESPONSE_CACHE_REDIS_PREFIX must be 1 to 100/);
  });

  it('reads booleans in any case, and takes an empty or blank value as unset', () => {
    expect(loadConfig({ TRUST_PROXY: 'YES', MIGRATE_ON_START: 'Off', PERSISTED_QUERIES: '0' })).toMatchObject({
      trustProxy: true,
      migrateOnStart: false,
      persistedQueries: false,
    });
    expect(loadConfig({ PORT: '', HOST: '   ', NODE_ENV: '' })).toMatchObject({ port: 4000, host: '127.0.0.1', nodeEnv: 'development' });
    expect(() => loadConfig({ TRUST_PROXY: 'Maybe' })).toThrow('TRUST_PROXY must be true or false (got "maybe")');
  });

  it('ignores the trace exporter when OTEL_SDK_DISABLED is true, whatever it says', () => {
    expect(loadConfig({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'zipkin' }).tracing.exporter).toBe('none');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).tracing.protocol).toBe('http/protobuf');
  });

  it('never echoes a metrics token or signing keys, and lists problems in declaration order', () => {
    let problems: string[] = [];
    try {
      loadConfig({ METRICS_TOKEN: 'short-secret', JWT_SIGNING_KEYS: '{"k": secret', PORT: 'x', QUERY_MAX_COST: '0' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems.map((problem) => problem.split(' ')[0])).toEqual(['PORT', 'JWT_SIGNING_KEYS', 'QUERY_MAX_COST', 'METRICS_TOKEN']);
    expect(problems.join('\n')).not.toMatch(/short-secret|"k"/);
  });
});
