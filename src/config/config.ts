/**
 * Configuration from environment variables, validated once at start-up.
 * Each variable is declared (schema, default, meaning) in variables/; a bad
 * value stops the process with a message naming every faulty variable at
 * once, never echoing a secret. docs/reference/configuration.md lists them.
 */
import { rawValue, readFileVariables, type Env } from './coerce.js';
import { crossFieldProblems } from './rules.js';
import type { Config } from './types.js';
import type { Dependencies, Variable } from './variable.js';
import { FILE_VARIABLES, VARIABLES, type Values, type VariableName } from './variables.js';

export type * from './types.js';
export { DEFAULT_CORS_ALLOWED_HEADERS, FILE_VARIABLES } from './variables.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

interface Problem {
  /** The variable it is about (a `_FILE` problem counts for its variable). */
  variable: string;
  message: string;
}

const NAMES = Object.keys(VARIABLES) as VariableName[];

/**
 * Reads every variable through its schema, in declaration order; an invalid
 * one is reported and takes its default, so that later rules still run.
 * A variable another one depends on is read when first asked for.
 */
function readVariables(env: Env, problems: Problem[]): Values {
  const read = new Map<VariableName, unknown>();
  const dependencies: Dependencies = {
    get nodeEnv() {
      return value('NODE_ENV');
    },
    get databasePoolMax() {
      return value('DATABASE_POOL_MAX');
    },
    get graphqlSandbox() {
      return value('GRAPHQL_SANDBOX');
    },
    get otlpProtocol() {
      return value('OTEL_EXPORTER_OTLP_PROTOCOL');
    },
    get otelSdkDisabled() {
      return value('OTEL_SDK_DISABLED');
    },
    isSet: (name) => rawValue(env, name) !== undefined,
  };

  function resolve(name: VariableName): unknown {
    const variable: Variable<unknown> = VARIABLES[name];
    const fallback = variable.fallback(dependencies);
    const text = rawValue(env, name);
    if (text === undefined || variable.ignoredWhen?.(dependencies) === true) return fallback;
    const result = variable.schema(dependencies).safeParse(text);
    if (result.success) return result.data;
    for (const issue of result.error.issues) problems.push({ variable: name, message: `${name} ${issue.message}` });
    return fallback;
  }

  function value<K extends VariableName>(name: K): Values[K] {
    if (!read.has(name)) read.set(name, resolve(name));
    // The map holds, for each name, what resolve() read through that variable's own schema.
    return read.get(name) as Values[K];
  }

  const values: Partial<Record<VariableName, unknown>> = {};
  for (const name of NAMES) values[name] = value(name);
  return values as Values;
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(rawEnv: Env = process.env): Config {
  const files = readFileVariables(rawEnv, FILE_VARIABLES);
  const env = files.env;
  const problems: Problem[] = [...files.problems];
  const values = readVariables(env, problems);
  // Declaration order, whichever variable was read first.
  const order = (variable: string): number => (NAMES as string[]).indexOf(variable);
  problems.sort((a, b) => (a.variable === b.variable ? 0 : order(a.variable) - order(b.variable)));
  const invalid = (name: string): boolean => problems.some((problem) => problem.variable === name);
  const messages = [...problems.map((problem) => problem.message), ...crossFieldProblems(values, invalid)];
  if (messages.length > 0) throw new ConfigError(messages);
  return {
    webhooks: {
      allowPrivateTargets: values.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      timeoutMs: values.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: values.WEBHOOK_RETRY_BASE_MS,
      maxEndpoints: values.WEBHOOK_MAX_ENDPOINTS,
      disableAfterHours: values.WEBHOOK_DISABLE_AFTER_HOURS,
      dispatchIntervalMs: values.WEBHOOK_DISPATCH_INTERVAL_MS,
    },
    nodeEnv: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    databaseUrl: values.DATABASE_URL,
    databasePoolMax: values.DATABASE_POOL_MAX,
    databasePoolMaxPerRequest: values.DATABASE_POOL_MAX_PER_REQUEST,
    databaseConnectTimeoutMs: values.DATABASE_CONNECT_TIMEOUT_MS,
    databaseStatementTimeoutMs: values.DATABASE_STATEMENT_TIMEOUT_MS,
    databasePooler: values.DATABASE_POOLER,
    databaseDirectUrl: values.DATABASE_DIRECT_URL,
    readReplicas: { urls: [...(values.READ_DATABASE_URL ?? [])], maxLagMs: values.READ_REPLICA_MAX_LAG },
    embeddedPgDir: values.EMBEDDED_PG_DIR,
    embeddedPgPort: values.EMBEDDED_PG_PORT,
    migrateOnStart: values.MIGRATE_ON_START,
    migrationLockTimeoutMs: values.MIGRATION_LOCK_TIMEOUT_MS,
    migrationLockRetries: values.MIGRATION_LOCK_RETRIES,
    migrationStatementTimeoutMs: values.MIGRATION_STATEMENT_TIMEOUT_MS,
    transitionRefreshMs: values.TRANSITION_REFRESH_MS,
    seedDemoData: values.SEED_DEMO_DATA,
    logLevel: values.LOG_LEVEL,
    logFormat: values.LOG_FORMAT,
    graphqlIde: values.GRAPHQL_IDE,
    graphqlIntrospection: values.GRAPHQL_INTROSPECTION,
    graphqlExecutor: values.GRAPHQL_EXECUTOR,
    rest: { enabled: values.REST_API, reference: values.REST_API && values.REST_REFERENCE },
    bodyLimitBytes: values.BODY_LIMIT_BYTES,
    trustProxy: values.TRUST_PROXY,
    shutdownDrainDelayMs: values.SHUTDOWN_DRAIN_DELAY_MS,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: [...values.CORS_ORIGINS],
    corsAllowedHeaders: [...values.CORS_ALLOWED_HEADERS],
    jwtIssuer: values.JWT_ISSUER,
    jwtAudience: values.JWT_AUDIENCE,
    jwtSigningKeys: values.JWT_SIGNING_KEYS,
    jwtKeyFile: values.JWT_KEY_FILE,
    accessTokenTtlSeconds: values.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: values.REFRESH_TOKEN_TTL_DAYS,
    oidc:
      values.OIDC_ISSUER !== undefined && values.OIDC_AUDIENCE !== undefined && values.OIDC_JWKS_URL !== undefined
        ? { issuer: values.OIDC_ISSUER, audience: values.OIDC_AUDIENCE, jwksUrl: values.OIDC_JWKS_URL }
        : undefined,
    redisUrl: values.REDIS_URL,
    redisCommandTimeoutMs: values.REDIS_COMMAND_TIMEOUT_MS,
    loginLimitPerEmailIp: values.LOGIN_LIMIT_PER_EMAIL_IP,
    loginLimitPerIp: values.LOGIN_LIMIT_PER_IP,
    queryLimits: {
      maxDepth: values.QUERY_MAX_DEPTH,
      maxAliases: values.QUERY_MAX_ALIASES,
      maxDirectives: values.QUERY_MAX_DIRECTIVES,
      maxTokens: values.QUERY_MAX_TOKENS,
      maxBytes: values.QUERY_MAX_BYTES,
      maxCost: values.QUERY_MAX_COST,
    },
    rateLimit: { budget: values.RATE_LIMIT_BUDGET, windowSeconds: values.RATE_LIMIT_WINDOW_SECONDS },
    payments: {
      webhookSecret: values.PAYMENT_WEBHOOK_SECRET,
      webhookLimitPerIp: values.PAYMENT_WEBHOOK_LIMIT_PER_IP,
      orderPaymentTtlMinutes: values.ORDER_PAYMENT_TTL_MINUTES,
    },
    headersTimeoutMs: values.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: values.REQUEST_TIMEOUT_MS,
    persistedQueries: values.PERSISTED_QUERIES,
    trustedDocumentsFile: values.TRUSTED_DOCUMENTS_FILE,
    responseCache: {
      mode: values.RESPONSE_CACHE,
      ttlSeconds: values.RESPONSE_CACHE_TTL_SECONDS,
      httpMaxAgeSeconds: values.RESPONSE_CACHE_HTTP_MAX_AGE_SECONDS,
      maxEntries: values.RESPONSE_CACHE_MAX_ENTRIES,
      maxBytes: values.RESPONSE_CACHE_MAX_BYTES,
      redisPrefix: values.RESPONSE_CACHE_REDIS_PREFIX,
    },
    subscriptions: {
      maxPerConnection: values.SUBSCRIPTIONS_MAX_PER_CONNECTION,
      maxPerUser: values.SUBSCRIPTIONS_MAX_PER_USER,
      maxConnectionsPerIp: values.SUBSCRIPTIONS_MAX_CONNECTIONS_PER_IP,
      maxMessageBytes: values.SUBSCRIPTIONS_MAX_MESSAGE_BYTES,
      keepAliveMs: values.SUBSCRIPTIONS_KEEPALIVE_MS,
      bufferEvents: values.SUBSCRIPTIONS_BUFFER_EVENTS,
      maxBufferedBytes: values.SUBSCRIPTIONS_MAX_BUFFERED_BYTES,
    },
    metrics: { token: values.METRICS_TOKEN, port: values.METRICS_PORT, host: values.METRICS_HOST },
    tracing: {
      exporter: values.OTEL_SDK_DISABLED ? 'none' : values.OTEL_TRACES_EXPORTER,
      protocol: values.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
      serviceName: values.OTEL_SERVICE_NAME,
    },
    worker: {
      mode: values.WORKER,
      databaseUrl: values.WORKER_DATABASE_URL,
      concurrency: values.WORKER_CONCURRENCY,
      pollIntervalMs: values.WORKER_POLL_INTERVAL_MS,
      shutdownTimeoutMs: values.WORKER_SHUTDOWN_TIMEOUT_MS,
      recoveryIntervalMs: values.WORKER_RECOVERY_INTERVAL_MS,
    },
  };
}
