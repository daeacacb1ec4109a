/** The server itself: where it listens, its database, logs, GraphQL executor and IDE, HTTP limits and shutdown. */
import { boolean, duration, headerNames, host, integer, oneOf, origins, postgresUrl, postgresUrls, text } from '../coerce.js';
import { DATABASE_POOLERS, GRAPHQL_EXECUTORS, GRAPHQL_IDES, LOG_FORMATS, LOG_LEVELS, NODE_ENVS } from '../types.js';
import { optional, setting } from '../variable.js';

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

export const SERVER_VARIABLES = {
  // --- Runtime
  NODE_ENV: setting({
    section: 'Runtime',
    schema: oneOf(NODE_ENVS),
    default: 'development',
    about: 'The kind of deployment. Several defaults below depend on it.',
  }),
  HOST: setting({
    section: 'Runtime',
    schema: host(),
    default: '127.0.0.1',
    about:
      'Interface to listen on: an IP address (`0.0.0.0` or `::` for all, in a container) or a host name such as `localhost`. Anything else (a URL, `host:port`) is refused.',
  }),
  PORT: setting({ section: 'Runtime', schema: integer(0, 65535), default: 4000, about: 'HTTP port.' }),

  // --- Database
  DATABASE_URL: optional({
    section: 'Database',
    schema: postgresUrl(),
    fromFile: true,
    example: 'postgres://marketplace:marketplace@localhost:5432/marketplace',
    about:
      'The PostgreSQL database. Unset: start the embedded PostgreSQL under `EMBEDDED_PG_DIR`, a development dependency that production installs do not have. Required when `NODE_ENV=production`.',
  }),
  DATABASE_POOLER: setting({
    section: 'Database',
    schema: oneOf(DATABASE_POOLERS),
    default: 'none',
    about:
      '`transaction`: `DATABASE_URL` (and `READ_DATABASE_URL`) lead to a pooler in transaction mode (PgBouncer `pool_mode = transaction`), which may hand each transaction to another server session. The server then keeps no state in a session: no startup `options` (PgBouncer refuses them), no named prepared statements, the statement timeout set with `SET LOCAL` in every transaction; LISTEN, migrations and the job worker use `DATABASE_DIRECT_URL`. Statements outside a transaction get the role\'s own `statement_timeout`: set it with `ALTER ROLE ... SET statement_timeout` (the server warns at start when it is off). `none`: a direct connection, or a pooler in session mode.',
  }),
  DATABASE_DIRECT_URL: optional({
    section: 'Database',
    schema: postgresUrl(),
    fromFile: true,
    example: 'postgres://marketplace:marketplace@db:5432/marketplace',
    about:
      'The same database as `DATABASE_URL`, reached without a transaction pooler: for LISTEN (live updates), migrations (a session advisory lock and session timeouts) and the job worker. Required with `DATABASE_POOLER=transaction`; otherwise unused (`DATABASE_URL` is direct).',
  }),
  DATABASE_POOL_MAX: setting({ section: 'Database', schema: integer(1, 200), default: 10, about: 'Maximum pool connections.' }),
  DATABASE_POOL_MAX_PER_REQUEST: setting({
    section: 'Database',
    example: '5',
    schemaFrom: (d) => integer(1, d.databasePoolMax),
    defaultFrom: (d) => Math.max(1, Math.ceil(d.databasePoolMax / 2)),
    defaultText: 'half of `DATABASE_POOL_MAX`, rounded up',
    accepts: '1 to `DATABASE_POOL_MAX`',
    about:
      'Most pool connections one request may hold at once; its further queries wait for one of them, so one request cannot starve the others. A transaction that must commit on its own inside the request\'s transaction (a failed login\'s audit event, a refresh-token reuse revocation, in a keyed mutation) gets one connection more without waiting.',
  }),
  DATABASE_CONNECT_TIMEOUT_MS: setting({
    section: 'Database',
    schema: integer(100, 60_000),
    default: 5_000,
    about:
      'How long a query waits for a pool connection (a new one, or a free one when all are busy) before the request is answered 503 `SERVICE_UNAVAILABLE`, in ms.',
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: setting({
    section: 'Database',
    schema: integer(100, 600_000),
    default: 10_000,
    about: '`statement_timeout` of every session, in ms (with `DATABASE_POOLER=transaction`, of every transaction: see `DATABASE_POOLER`).',
  }),
  READ_DATABASE_URL: optional({
    section: 'Database',
    schema: postgresUrls(),
    fromFile: true,
    example: 'postgres://marketplace:marketplace@db-replica:5432/marketplace',
    about:
      'Streaming replicas of `DATABASE_URL`\'s database, comma-separated (named `replica-1`, `replica-2`, ... in metrics and readiness). Queries (not mutations) read from one replica per request, round robin; units of work, mutations and a caller\'s reads for `READ_REPLICA_MAX_LAG` after their own mutation read the primary; a replica that is down or further behind than `READ_REPLICA_MAX_LAG` is skipped (reads fall back to the primary). Each gets its own pool of `DATABASE_POOL_MAX`. Unset: every read goes to the primary.',
  }),
  READ_REPLICA_MAX_LAG: setting({
    section: 'Database',
    schema: duration(100, 600_000),
    default: 2_000,
    about:
      'How far (in time) a replica may be behind the primary and still serve reads; measured by comparing its replay position with the primary\'s WAL position every quarter of this (at most every second). Also how long a caller\'s reads go to the primary after their own mutation (read-your-writes), shared between instances through Redis when `REDIS_URL` is set. Only with `READ_DATABASE_URL`.',
  }),
  EMBEDDED_PG_DIR: setting({
    section: 'Database',
    schema: text(),
    default: '.data/postgres',
    about: 'Data directory of the embedded PostgreSQL (only without `DATABASE_URL`).',
  }),
  EMBEDDED_PG_PORT: setting({
    section: 'Database',
    schema: integer(1024, 65535),
    default: 54329,
    about: 'Port of the embedded PostgreSQL (only without `DATABASE_URL`).',
  }),
  MIGRATE_ON_START: setting({
    section: 'Database',
    schema: boolean(),
    default: true,
    about: 'Apply pending migrations at start-up. `/health/ready` answers 503 while any are pending, but for one that waits for its backfill (docs/operations/migrations.md).',
  }),
  MIGRATION_LOCK_TIMEOUT_MS: setting({
    section: 'Database',
    schema: integer(100, 600_000),
    default: 5_000,
    about:
      '`lock_timeout` of every migration statement, in ms: a migration that waits this long for a lock (a busy table) gives up instead of queueing every query behind it, and is started over (`MIGRATION_LOCK_RETRIES`).',
  }),
  MIGRATION_LOCK_RETRIES: setting({
    section: 'Database',
    schema: integer(0, 20),
    default: 4,
    about:
      'How often a migration that could not take its lock is started over (after 1 s, 2 s, 4 s, ...) before the run fails with a line naming the blocking session.',
  }),
  MIGRATION_STATEMENT_TIMEOUT_MS: setting({
    section: 'Database',
    schema: integer(1_000, 86_400_000),
    default: 900_000,
    about:
      '`statement_timeout` of every migration statement (a concurrent index build included), and the longest wait for another replica\'s migration run, in ms.',
  }),
  TRANSITION_REFRESH_MS: setting({
    section: 'Database',
    schema: integer(100, 60_000),
    default: 5_000,
    about:
      'How often each instance (API or worker) reads the state of the schema changes made in phases (applied expand and contract migrations, backfill progress, switched reads), in ms. A switch of reads, or a newly applied expand migration, reaches every instance within this time; start a backfill no sooner than this after the expand (docs/operations/migrations.md).',
  }),
  SEED_DEMO_DATA: setting({
    section: 'Database',
    example: 'true',
    schema: boolean(),
    defaultFrom: (d) => d.nodeEnv === 'development',
    defaultText: '`true` in development, else `false`',
    about:
      'Insert the demo data when the `users` table is empty. Refused (start-up error) when `NODE_ENV=production`: the demo accounts share a published password.',
  }),

  // --- Logging
  LOG_LEVEL: setting({ section: 'Logging', schema: oneOf(LOG_LEVELS), default: 'info', about: 'Least severe level logged.' }),
  LOG_FORMAT: setting({
    section: 'Logging',
    example: 'pretty',
    schema: oneOf(LOG_FORMATS),
    defaultFrom: (d) => (d.nodeEnv === 'development' ? 'pretty' : 'json'),
    defaultText: '`pretty` in development, else `json`',
    about: '`pretty` (human-readable) or `json` (one object per line).',
  }),

  // --- GraphQL
  GRAPHQL_SANDBOX: optional({
    section: 'GraphQL',
    schema: boolean(),
    about: 'Older switch, read only when `GRAPHQL_IDE` is unset: `true` means `sandbox`, `false` means `off`.',
  }),
  GRAPHQL_IDE: setting({
    section: 'GraphQL',
    example: 'graphiql',
    schema: oneOf(GRAPHQL_IDES),
    // GRAPHQL_SANDBOX (true/false) is the older switch, read when GRAPHQL_IDE is unset.
    defaultFrom: (d) => ((d.graphqlSandbox ?? d.nodeEnv === 'development') ? 'sandbox' : 'off'),
    defaultText: '`sandbox` in development, else `off` (or as `GRAPHQL_SANDBOX` says)',
    about:
      'In-browser IDE at `GET /graphql`: `sandbox` (Apollo Sandbox, loaded from Apollo\'s CDN; the bundled GraphiQL when the CDN cannot be reached), `graphiql` (served from this server, works offline) or `off`.',
  }),
  GRAPHQL_INTROSPECTION: setting({
    section: 'GraphQL',
    example: 'true',
    schema: boolean(),
    defaultFrom: (d) => d.nodeEnv !== 'production',
    defaultText: '`false` in production, else `true`',
    about: 'Allow schema introspection. When off, validation errors also stop suggesting field names.',
  }),
  GRAPHQL_EXECUTOR: setting({
    section: 'GraphQL',
    schema: oneOf(GRAPHQL_EXECUTORS),
    default: 'jit',
    about:
      '`jit`: operations are compiled once by graphql-jit and the compiled function runs each request (same answers, errors and permission checks as graphql-js); `graphql-js`: the reference executor.',
  }),

  // --- REST
  REST_API: setting({
    section: 'REST',
    schema: boolean(),
    default: true,
    about:
      'Serve the REST routes under `/v1` (each runs a GraphQL document of `rest/v1/`, through the same authorization, limits and idempotency as `/graphql`) and `GET /v1/openapi.json`.',
  }),
  REST_REFERENCE: setting({
    section: 'REST',
    example: 'true',
    schema: boolean(),
    defaultFrom: (d) => d.nodeEnv !== 'production',
    defaultText: '`false` in production, else `true`',
    about: 'Serve the REST reference page at `GET /v1/docs` (Swagger UI, bundled: works offline). Needs `REST_API`.',
  }),

  // --- HTTP
  BODY_LIMIT_BYTES: setting({
    section: 'HTTP',
    schema: integer(1024, 52_428_800),
    default: 1_048_576,
    about: 'Largest accepted request body, in bytes.',
  }),
  TRUST_PROXY: setting({
    section: 'HTTP',
    schema: boolean(),
    default: false,
    about: 'Trust `X-Forwarded-*` headers; only behind a proxy you control.',
  }),
  CORS_ORIGINS: setting({
    section: 'HTTP',
    schema: origins(),
    default: [],
    example: 'https://shop.example.com,https://admin.example.com',
    about: 'Browser origins allowed to call the API cross-origin, with credentials. Unset: same origin only.',
  }),
  CORS_ALLOWED_HEADERS: setting({
    section: 'HTTP',
    schema: headerNames(),
    default: [...DEFAULT_CORS_ALLOWED_HEADERS],
    about:
      'Request headers those origins may send (the CORS preflight\'s allow-list). Replaces the default list, so keep `content-type` and `authorization`; the default adds the headers Apollo Client, urql and tracing send.',
  }),
  HEADERS_TIMEOUT_MS: setting({
    section: 'HTTP',
    schema: integer(100, 300_000),
    default: 10_000,
    about: 'Time to receive a request\'s headers, in ms; at most `REQUEST_TIMEOUT_MS`.',
  }),
  REQUEST_TIMEOUT_MS: setting({
    section: 'HTTP',
    schema: integer(100, 600_000),
    default: 30_000,
    about: 'Time to receive a whole request, body included, in ms; a slower one gets 408 and the connection is closed.',
  }),

  // --- Shutdown
  SHUTDOWN_DRAIN_DELAY_MS: setting({
    section: 'Shutdown',
    schema: integer(0, 120_000),
    // Load balancers exist in production; elsewhere Ctrl-C stops the server at once.
    defaultFrom: (d) => (d.nodeEnv === 'production' ? 5_000 : 0),
    defaultText: '`5000` in production, else `0`',
    example: '5000',
    about:
      'On SIGINT/SIGTERM, how long the server keeps serving requests (readiness failing, every response with `Connection: close`) before it stops accepting, in ms; less than `SHUTDOWN_TIMEOUT_MS` (or 0). `0` where the platform removes the instance from its load balancer before sending SIGTERM.',
  }),
  SHUTDOWN_TIMEOUT_MS: setting({
    section: 'Shutdown',
    schema: integer(0, 120_000),
    default: 10_000,
    about: 'On SIGINT/SIGTERM, the whole shutdown budget in ms, drain delay included: requests still running this long after the signal are cut.',
  }),
} as const;
