/**
 * Configuration from environment variables, validated once at start-up.
 * A bad value stops the process with a message that names the variable;
 * every variable is documented in docs/reference/configuration.md and .env.example.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type NodeEnv = 'development' | 'production' | 'test';
export type GraphqlExecutor = 'jit' | 'graphql-js';
export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** The in-browser IDE served at `GET /graphql` to browsers. */
export type GraphqlIde = 'sandbox' | 'graphiql' | 'off';
export type TracesExporter = 'none' | 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json';
/** Where the shared cache of anonymous query responses lives (src/cache/). */
export type ResponseCacheMode = 'memory' | 'redis' | 'off';

/** Variables that may hold secrets: each can instead be read from the file named by `<NAME>_FILE` (Docker secrets). */
export const FILE_VARIABLES = ['DATABASE_URL', 'JWT_SIGNING_KEYS', 'REDIS_URL', 'METRICS_TOKEN'] as const;

export interface Config {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  /** Absent: start an embedded PostgreSQL under `embeddedPgDir`. */
  databaseUrl: string | undefined;
  databasePoolMax: number;
  /** Most pool connections one request may hold at once (at most databasePoolMax). */
  databasePoolMaxPerRequest: number;
  /** How long a query waits for a pool connection before the request is answered 503. */
  databaseConnectTimeoutMs: number;
  databaseStatementTimeoutMs: number;
  embeddedPgDir: string;
  embeddedPgPort: number;
  migrateOnStart: boolean;
  seedDemoData: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  graphqlIde: GraphqlIde;
  graphqlIntrospection: boolean;
  /** `jit` (default): operations compiled by graphql-jit; `graphql-js`: the reference executor. */
  graphqlExecutor: GraphqlExecutor;
  bodyLimitBytes: number;
  trustProxy: boolean;
  /** On SIGINT/SIGTERM, how long requests keep being served (readiness failing) before the listener closes. */
  shutdownDrainDelayMs: number;
  /** From the signal, when requests still running are cut (the drain delay included). */
  shutdownTimeoutMs: number;
  /** Browser origins allowed to call the API cross-origin (CORS); empty: same origin only. */
  corsOrigins: string[];
  /** Request headers those origins may send (the preflight's allow-list), lower case. */
  corsAllowedHeaders: string[];
  /** `iss` of the access tokens this server signs. */
  jwtIssuer: string;
  /** `aud` of the access tokens this server signs and accepts. */
  jwtAudience: string;
  /** A JWK set of private signing keys (JSON). The last key signs; all verify. Required in production. */
  jwtSigningKeys: string | undefined;
  /** Where development keeps its generated key pair when JWT_SIGNING_KEYS is not set. */
  jwtKeyFile: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  /** External OpenID Connect provider; all three set, or none. */
  oidc: { issuer: string; audience: string; jwksUrl: string } | undefined;
  /** Optional Redis for limits shared across instances. */
  redisUrl: string | undefined;
  /** How long a Redis command waits for its answer before it fails and the Redis circuit breaker opens. */
  redisCommandTimeoutMs: number;
  /** Login / sign-up attempts per (email, IP) per 15 minutes. */
  loginLimitPerEmailIp: number;
  /** Failed login / sign-up attempts per IP per hour (all emails) before the IP is blocked for credential stuffing. */
  loginLimitPerIp: number;
  /** Limits every GraphQL document must stay within; checked before anything runs. */
  queryLimits: QueryLimitsConfig;
  /** The query-cost budget of each principal. */
  rateLimit: RateLimitConfig;
  /** Time allowed to receive a request's headers, in ms. */
  headersTimeoutMs: number;
  /** Time allowed to receive a whole request (headers and body), in ms. */
  requestTimeoutMs: number;
  /** Automatic persisted queries (hash-only requests, GET with a hash). */
  persistedQueries: boolean;
  /** A JSON file of trusted documents; when set, only those run. */
  trustedDocumentsFile: string | undefined;
  /** The shared cache of anonymous query responses. */
  responseCache: ResponseCacheConfig;
  /** `GET /metrics` (Prometheus): off when neither a token nor a port is set. */
  metrics: {
    /** Bearer token required to scrape; unset: no token asked. */
    token: string | undefined;
    /** Separate listener for /metrics; unset: served on the API port (only with a token). */
    port: number | undefined;
    host: string;
  };
  /** OpenTelemetry tracing, from the standard OTEL_* variables; exporter `none` is off. */
  tracing: {
    exporter: TracesExporter;
    protocol: OtlpProtocol;
    serviceName: string;
  };
}

export interface QueryLimitsConfig {
  maxDepth: number;
  /** Aliased fields per operation, `__typename` included. */
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  /** Size of the document text in bytes (UTF-8). */
  maxBytes: number;
  /** Requested cost of one operation (connections weighed by first/last). */
  maxCost: number;
}

export interface ResponseCacheConfig {
  /** `memory` (per instance), `redis` (shared by every instance, needs REDIS_URL) or `off`. */
  mode: ResponseCacheMode;
  /** How long a stored response may be served if no write invalidates it first. */
  ttlSeconds: number;
  /** `max-age` sent with cacheable anonymous GET responses (browsers and CDNs, which no invalidation reaches). */
  httpMaxAgeSeconds: number;
  /** Memory store: most responses kept at once. */
  maxEntries: number;
  /** Memory store: most bytes of response data kept at once; a response over an eighth of it is not stored. */
  maxBytes: number;
  /** Redis store: prefix of every key, so deployments (or test runs) sharing one Redis stay apart. */
  redisPrefix: string;
}

export interface RateLimitConfig {
  /** Cost points per principal per window. */
  budget: number;
  windowSeconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** An HTTP field name (RFC 9110 token); `*` is not one, and with credentials it would not be a wildcard anyway. */
const HEADER_NAME = /^[a-z0-9!#$%&'+.^_`|~-]+$/;

/**
 * Request headers listed origins may send: what the API reads, plus what
 * well-known GraphQL clients add (Apollo Client's client awareness and CSRF
 * header, its operation-name header, W3C trace context, idempotency keys).
 * A header missing here fails the browser's preflight, and with it every
 * request of an app that sends it.
 */
export const DEFAULT_CORS_ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'apollographql-client-name',
  'apollographql-client-version',
  'x-apollo-operation-name',
  'x-request-id',
  'traceparent',
  'tracestate',
  'idempotency-key',
] as const;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * `<NAME>_FILE` for each of FILE_VARIABLES: the file's content (trailing
 * newline removed) becomes `<NAME>`. Setting both is an error, as is a file
 * that cannot be read. The content is never echoed.
 */
function readFileVariables(env: Env, problems: string[]): Env {
  const resolved: Env = { ...env };
  for (const name of FILE_VARIABLES) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name]?.trim()) {
      problems.push(`${name} and ${name}_FILE are both set; set only one`);
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${name}_FILE names a file that cannot be read: ${file} (${code})`);
    }
  }
  return resolved;
}

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
    return fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return Number(value);
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      if (!protocols.includes(new URL(value).protocol)) throw new Error('protocol');
      return value;
    } catch {
      this.problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return undefined;
    }
  }

  json(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      JSON.parse(value);
      return value;
    } catch {
      // Never echo the value: it holds private keys.
      this.problems.push(`${name} must be valid JSON`);
      return undefined;
    }
  }

  /** A comma-separated list of exact origins such as `https://shop.example.com`. */
  origins(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const origins = value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
    for (const origin of origins) {
      let valid = false;
      try {
        const url = new URL(origin);
        valid = (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
      } catch {
        valid = false;
      }
      if (!valid) {
        this.problems.push(`${name} must list origins like https://shop.example.com, separated by commas (got "${origin}")`);
        return [];
      }
    }
    return origins;
  }

  /** A comma-separated list of HTTP header names (RFC 9110 tokens), lower-cased; unset: the fallback. */
  headerNames(name: string, fallback: readonly string[]): string[] {
    const value = this.raw(name);
    if (value === undefined) return [...fallback];
    const names = value.split(',').map((item) => item.trim().toLowerCase()).filter((item) => item.length > 0);
    const invalid = names.find((item) => !HEADER_NAME.test(item));
    if (invalid !== undefined || names.length === 0) {
      this.problems.push(`${name} must list header names such as content-type, separated by commas (got "${invalid ?? value}")`);
      return [...fallback];
    }
    return [...new Set(names)];
  }

  /** An IP address or a host name (letters, digits, hyphens, dots), as listen() accepts. */
  host(name: string, fallback: string): string {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    // A name whose last label is all digits would be a mistyped IPv4 address, not a host name.
    if (isIP(value) !== 0 || (HOST_NAME.test(value) && !/(^|\.)\d+$/.test(value))) return value;
    this.problems.push(`${name} must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or a host name such as localhost (got "${value}")`);
    return fallback;
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  postgresUrl(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      const url = new URL(value);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('protocol');
      return value;
    } catch {
      // Never echo the value: it may hold a password.
      this.problems.push(`${name} must be a postgres:// or postgresql:// URL`);
      return undefined;
    }
  }
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(rawEnv: Env = process.env): Config {
  const fileProblems: string[] = [];
  const env = readFileVariables(rawEnv, fileProblems);
  const read = new Reader(env);
  read.problems.push(...fileProblems);
  const nodeEnv = read.oneOf<NodeEnv>('NODE_ENV', ['development', 'production', 'test'], 'development');
  const dev = nodeEnv === 'development';
  const config: Config = {
    nodeEnv,
    host: read.host('HOST', '127.0.0.1'),
    port: read.int('PORT', 4000, 0, 65535),
    databaseUrl: read.postgresUrl('DATABASE_URL'),
    databasePoolMax: read.int('DATABASE_POOL_MAX', 10, 1, 200),
    databasePoolMaxPerRequest: 0, // below: its default depends on DATABASE_POOL_MAX
    databaseConnectTimeoutMs: read.int('DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 60_000),
    databaseStatementTimeoutMs: read.int('DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100, 600_000),
    embeddedPgDir: read.string('EMBEDDED_PG_DIR', '.data/postgres'),
    embeddedPgPort: read.int('EMBEDDED_PG_PORT', 54329, 1024, 65535),
    migrateOnStart: read.bool('MIGRATE_ON_START', true),
    seedDemoData: read.bool('SEED_DEMO_DATA', dev),
    logLevel: read.oneOf<LogLevel>('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    logFormat: read.oneOf<LogFormat>('LOG_FORMAT', ['json', 'pretty'], dev ? 'pretty' : 'json'),
    // GRAPHQL_SANDBOX (true/false) is the older switch, read when GRAPHQL_IDE is unset.
    graphqlIde: read.oneOf<GraphqlIde>(
      'GRAPHQL_IDE',
      ['sandbox', 'graphiql', 'off'],
      read.bool('GRAPHQL_SANDBOX', dev) ? 'sandbox' : 'off',
    ),
    graphqlIntrospection: read.bool('GRAPHQL_INTROSPECTION', nodeEnv !== 'production'),
    graphqlExecutor: read.oneOf<GraphqlExecutor>('GRAPHQL_EXECUTOR', ['jit', 'graphql-js'], 'jit'),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 1_048_576, 1024, 52_428_800),
    trustProxy: read.bool('TRUST_PROXY', false),
    // Load balancers exist in production; elsewhere Ctrl-C stops the server at once.
    shutdownDrainDelayMs: read.int('SHUTDOWN_DRAIN_DELAY_MS', nodeEnv === 'production' ? 5_000 : 0, 0, 120_000),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 120_000),
    corsOrigins: read.origins('CORS_ORIGINS'),
    corsAllowedHeaders: read.headerNames('CORS_ALLOWED_HEADERS', DEFAULT_CORS_ALLOWED_HEADERS),
    jwtIssuer: read.string('JWT_ISSUER', 'marketplace-api'),
    jwtAudience: read.string('JWT_AUDIENCE', 'marketplace-api'),
    jwtSigningKeys: read.json('JWT_SIGNING_KEYS'),
    jwtKeyFile: read.string('JWT_KEY_FILE', '.data/jwt-signing-keys.json'),
    accessTokenTtlSeconds: read.int('ACCESS_TOKEN_TTL_SECONDS', 900, 60, 86_400),
    refreshTokenTtlDays: read.int('REFRESH_TOKEN_TTL_DAYS', 30, 1, 365),
    oidc: undefined,
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    redisCommandTimeoutMs: read.int('REDIS_COMMAND_TIMEOUT_MS', 1_000, 50, 60_000),
    loginLimitPerEmailIp: read.int('LOGIN_LIMIT_PER_EMAIL_IP', 10, 1, 10_000),
    loginLimitPerIp: read.int('LOGIN_LIMIT_PER_IP', 100, 1, 1_000_000),
    queryLimits: {
      maxDepth: read.int('QUERY_MAX_DEPTH', 12, 1, 100),
      maxAliases: read.int('QUERY_MAX_ALIASES', 30, 0, 1000),
      maxDirectives: read.int('QUERY_MAX_DIRECTIVES', 20, 0, 1000),
      maxTokens: read.int('QUERY_MAX_TOKENS', 2000, 100, 100_000),
      maxBytes: read.int('QUERY_MAX_BYTES', 32_768, 256, 1_048_576),
      maxCost: read.int('QUERY_MAX_COST', 10_000, 1, 10_000_000),
    },
    rateLimit: {
      budget: read.int('RATE_LIMIT_BUDGET', 500_000, 1, 1_000_000_000),
      windowSeconds: read.int('RATE_LIMIT_WINDOW_SECONDS', 3600, 1, 86_400),
    },
    headersTimeoutMs: read.int('HEADERS_TIMEOUT_MS', 10_000, 100, 300_000),
    requestTimeoutMs: read.int('REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    persistedQueries: read.bool('PERSISTED_QUERIES', true),
    trustedDocumentsFile: read.optionalString('TRUSTED_DOCUMENTS_FILE'),
    responseCache: {
      // Tests write rows behind the API's back (seeders), which no invalidation hears: they opt in.
      mode: read.oneOf<ResponseCacheMode>('RESPONSE_CACHE', ['memory', 'redis', 'off'], nodeEnv === 'test' ? 'off' : env['REDIS_URL']?.trim() ? 'redis' : 'memory'),
      ttlSeconds: read.int('RESPONSE_CACHE_TTL_SECONDS', 300, 1, 86_400),
      httpMaxAgeSeconds: read.int('RESPONSE_CACHE_HTTP_MAX_AGE_SECONDS', 0, 0, 86_400),
      maxEntries: read.int('RESPONSE_CACHE_MAX_ENTRIES', 10_000, 1, 10_000_000),
      maxBytes: read.int('RESPONSE_CACHE_MAX_BYTES', 67_108_864, 65_536, 17_179_869_184),
      redisPrefix: read.string('RESPONSE_CACHE_REDIS_PREFIX', 'marketplace-api:response-cache'),
    },
    metrics: {
      token: read.optionalString('METRICS_TOKEN'),
      port: env['METRICS_PORT']?.trim() ? read.int('METRICS_PORT', 9464, 0, 65535) : undefined,
      host: read.host('METRICS_HOST', '127.0.0.1'),
    },
    tracing: {
      // The OpenTelemetry default exporter is otlp; here tracing stays off unless one is named
      // (or an OTLP endpoint is given), so a plain start never tries to reach a collector.
      exporter: read.bool('OTEL_SDK_DISABLED', false)
        ? 'none'
        : read.oneOf<TracesExporter>(
            'OTEL_TRACES_EXPORTER',
            ['none', 'otlp', 'console'],
            env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim() || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() ? 'otlp' : 'none',
          ),
      protocol: read.oneOf<OtlpProtocol>(
        'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
        ['http/protobuf', 'http/json'],
        read.oneOf<OtlpProtocol>('OTEL_EXPORTER_OTLP_PROTOCOL', ['http/protobuf', 'http/json'], 'http/protobuf'),
      ),
      serviceName: read.string('OTEL_SERVICE_NAME', 'marketplace-api'),
    },
  };
  if (config.queryLimits.maxCost > config.rateLimit.budget) {
    read.problem('QUERY_MAX_COST must not exceed RATE_LIMIT_BUDGET (a query over the whole budget could never run)');
  }
  if (config.shutdownDrainDelayMs > 0 && config.shutdownDrainDelayMs >= config.shutdownTimeoutMs) {
    read.problem(
      `SHUTDOWN_DRAIN_DELAY_MS (${config.shutdownDrainDelayMs}) must be less than SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs}): ` +
        'the delay is the first part of the shutdown budget and requests still running need the rest; ' +
        'raise SHUTDOWN_TIMEOUT_MS or lower SHUTDOWN_DRAIN_DELAY_MS (0 turns the delay off)',
    );
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    read.problem('HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS');
  }
  if (config.responseCache.mode === 'redis' && config.redisUrl === undefined && !read.problems.some((p) => p.startsWith('REDIS_URL'))) {
    read.problem('RESPONSE_CACHE=redis needs REDIS_URL (or REDIS_URL_FILE); use RESPONSE_CACHE=memory for a single instance');
  }
  if (!/^[A-Za-z0-9:._-]{1,100}$/.test(config.responseCache.redisPrefix)) {
    read.problem(`RESPONSE_CACHE_REDIS_PREFIX must be 1 to 100 letters, digits, or . _ : - (got "${config.responseCache.redisPrefix}")`);
  }
  if (config.metrics.token !== undefined && config.metrics.token.length < 16) {
    read.problem('METRICS_TOKEN must be at least 16 characters long');
  }
  config.databasePoolMaxPerRequest = read.int(
    'DATABASE_POOL_MAX_PER_REQUEST',
    Math.max(1, Math.ceil(config.databasePoolMax / 2)),
    1,
    config.databasePoolMax,
  );
  const oidcIssuer = read.optionalString('OIDC_ISSUER');
  const oidcAudience = read.optionalString('OIDC_AUDIENCE');
  const oidcJwksUrl = read.url('OIDC_JWKS_URL', ['https:', 'http:']);
  const oidcSet = [oidcIssuer, oidcAudience, oidcJwksUrl].filter((v) => v !== undefined).length;
  if (oidcIssuer && oidcAudience && oidcJwksUrl) {
    config.oidc = { issuer: oidcIssuer, audience: oidcAudience, jwksUrl: oidcJwksUrl };
  } else if (oidcSet > 0 && !read.problems.some((p) => p.startsWith('OIDC_JWKS_URL'))) {
    read.problem('OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL must be set together');
  }
  if (nodeEnv === 'production' && config.jwtSigningKeys === undefined && !read.problems.some((p) => p.startsWith('JWT_SIGNING_KEYS'))) {
    read.problem('JWT_SIGNING_KEYS must be set in production (a JWK set of private signing keys: npm run -s keys:generate), or JWT_SIGNING_KEYS_FILE naming a file that holds it');
  }
  if (nodeEnv === 'production') {
    // The embedded PostgreSQL is a development convenience: a production
    // server without DATABASE_URL is a deployment mistake, not a fallback.
    if (config.databaseUrl === undefined && !read.problems.some((p) => p.startsWith('DATABASE_URL'))) {
      read.problem('DATABASE_URL must be set in production (the embedded PostgreSQL is for development only)');
    }
    // Demo accounts share a published password.
    if (config.seedDemoData) {
      read.problem('SEED_DEMO_DATA=true is refused in production: the demo accounts share a published password');
    }
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}
