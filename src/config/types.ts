/**
 * The shape of the configuration the rest of the server reads. The
 * variables it comes from are declared in variables.ts.
 */
export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
export const GRAPHQL_EXECUTORS = ['jit', 'graphql-js'] as const;
export type GraphqlExecutor = (typeof GRAPHQL_EXECUTORS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** The in-browser IDE served at `GET /graphql` to browsers. */
export const GRAPHQL_IDES = ['sandbox', 'graphiql', 'off'] as const;
export type GraphqlIde = (typeof GRAPHQL_IDES)[number];
export const TRACES_EXPORTERS = ['none', 'otlp', 'console'] as const;
export type TracesExporter = (typeof TRACES_EXPORTERS)[number];
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
/** Where the shared cache of anonymous query responses lives (src/cache/). */
export const RESPONSE_CACHE_MODES = ['memory', 'redis', 'off'] as const;
export type ResponseCacheMode = (typeof RESPONSE_CACHE_MODES)[number];
/** What sits between the server and PostgreSQL: nothing (or a session pooler), or a transaction pooler such as PgBouncer. */
export const DATABASE_POOLERS = ['none', 'transaction'] as const;
export type DatabasePooler = (typeof DATABASE_POOLERS)[number];
/** Whether this process runs the job worker (src/jobs/) beside the API. */
export const WORKER_MODES = ['on', 'off'] as const;
export type WorkerMode = (typeof WORKER_MODES)[number];

export interface Config {
  /** Outbound webhooks (src/modules/webhooks). */
  webhooks: {
    /** Plain http:// and loopback/private targets (development and tests only; refused in production). */
    allowPrivateTargets: boolean;
    timeoutMs: number;
    retryBaseMs: number;
    maxEndpoints: number;
    disableAfterHours: number;
    /** How often the dispatcher starts a batch at most, in ms (WEBHOOK_DISPATCH_INTERVAL_MS; absent: its default). */
    dispatchIntervalMs?: number;
  };
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
  /** `transaction`: DATABASE_URL is a transaction pooler, so sessions keep no state (src/db/connection.ts). */
  databasePooler: DatabasePooler;
  /** A direct connection (no transaction pooler) for LISTEN, migrations and the job worker; set whenever `databasePooler` is `transaction`. */
  databaseDirectUrl: string | undefined;
  /** Read replicas (src/db/replicas.ts): empty for none. */
  readReplicas: ReadReplicaConfig;
  embeddedPgDir: string;
  embeddedPgPort: number;
  migrateOnStart: boolean;
  /** Migration runs (src/db/migrator.ts): lock_timeout, its retries, statement_timeout. */
  migrationLockTimeoutMs: number;
  migrationLockRetries: number;
  migrationStatementTimeoutMs: number;
  /** How often each instance reads the phased schema changes' state (src/transitions/). */
  transitionRefreshMs: number;
  seedDemoData: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  graphqlIde: GraphqlIde;
  graphqlIntrospection: boolean;
  /** `jit` (default): operations compiled by graphql-jit; `graphql-js`: the reference executor. */
  graphqlExecutor: GraphqlExecutor;
  /** The REST surface (src/rest/): its routes and OpenAPI document, and its reference page. */
  rest: { enabled: boolean; reference: boolean };
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
  /** The payment provider's webhook (POST /webhooks/payments) and the payment expiry. */
  payments: {
    /** Standard Webhooks secret (`whsec_...`); unset: the webhook answers 503. */
    webhookSecret: string | undefined;
    /** Requests per client IP per minute. */
    webhookLimitPerIp: number;
    /** How long an order waits for its payment before the system cancels it. */
    orderPaymentTtlMinutes: number;
  };
  /** Live updates: GraphQL subscriptions over WebSocket and Server-Sent Events. */
  subscriptions: {
    maxPerConnection: number;
    maxPerUser: number;
    maxConnectionsPerIp: number;
    maxMessageBytes: number;
    keepAliveMs: number;
    bufferEvents: number;
    /** SUBSCRIPTIONS_MAX_BUFFERED_BYTES: unsent bytes after which a WebSocket is closed with 4413. */
    maxBufferedBytes: number;
  };
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
  /** The job worker (src/jobs/): in this process (`on`) or in its own (`npm run worker`). */
  worker: WorkerConfig;
}

export interface ReadReplicaConfig {
  /** READ_DATABASE_URL, in order (replica-1, replica-2, ...). */
  urls: string[];
  /** A replica further behind the primary than this is skipped; also the read-your-writes window. */
  maxLagMs: number;
}

export interface WorkerConfig {
  mode: WorkerMode;
  /** A direct connection for the worker (LISTEN/NOTIFY); unset: the database's own URL. */
  databaseUrl: string | undefined;
  concurrency: number;
  pollIntervalMs: number;
  /** On SIGTERM, how long running jobs may take to finish before they are released for a later run. */
  shutdownTimeoutMs: number;
  /** How often a worker looks for jobs locked by a worker that died (src/jobs/recovery.ts). */
  recoveryIntervalMs: number;
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
