/**
 * Prometheus metrics (prom-client). One registry per process: the counters
 * below are module-level so that any code can count an event with one call
 * (`countRateLimitRefusal('login')`) without a handle being passed around.
 *
 * Every label has a bounded set of values: operation labels come from the
 * schema's root fields, error codes from the registry, free-form labels given
 * by callers are normalised and capped (see `BoundedLabel`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import { isErrorCode } from '../errors/codes.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** What the pool gauges read; pg.Pool has these three counters. */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

const OTHER = 'other';

/**
 * Labels a caller chooses (a limit's name, a failure reason): lower-cased to
 * [a-z0-9_], at most 40 characters, and at most `max` distinct values; the
 * rest count as "other", so a caller cannot blow up the series count.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  value(raw: string): string {
    const label = raw.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 40) || OTHER;
    if (this.seen.has(label)) return label;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(label);
    return label;
  }
}

const httpDuration = new Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Duration of HTTP requests, by method, route and status code.',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const operationDuration = new Histogram({
  name: 'graphql_operation_duration_seconds',
  help: 'Duration of GraphQL operations from receipt to response, by operation ("<type> <root field>", "<type> multiple" or "other") and outcome.',
  labelNames: ['operation', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const errors = new Counter({
  name: 'api_errors_total',
  help: 'Request-level errors answered, by error code (extensions.code).',
  labelNames: ['code'] as const,
  registers: [registry],
});

const sqlPerRequest = new Histogram({
  name: 'graphql_request_sql_statements',
  help: 'SQL statements run per GraphQL operation request (/graphql and the REST routes).',
  buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89],
  registers: [registry],
});

const loginFailures = new Counter({
  name: 'auth_login_failures_total',
  help: 'Failed sign-in attempts (wrong email or password, invalid refresh token), by reason.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const rateLimitRefusals = new Counter({
  name: 'rate_limit_refusals_total',
  help: 'Requests refused because a rate limit budget was spent, by limit.',
  labelNames: ['limit'] as const,
  registers: [registry],
});

const queryLimitRefusals = new Counter({
  name: 'query_limit_refusals_total',
  help: 'Operations refused before execution by a query limit (depth, cost, aliases, ...), by limit.',
  labelNames: ['limit'] as const,
  registers: [registry],
});

const responseCacheEvents = new Counter({
  name: 'graphql_response_cache_events_total',
  help:
    'Shared response cache: lookups (hit, not_modified, miss, bypass), responses stored (store), invalidations published (invalidation), ' +
    'invalidations the store did not take, kept to replay (invalidation_deferred), replays done (invalidation_replayed) and whole-store flushes (flush).',
  labelNames: ['event'] as const,
  registers: [registry],
});

const redisCommandsSkipped = new Counter({
  name: 'redis_commands_skipped_total',
  help: 'Redis commands refused at once, unsent, because the circuit breaker was open (the caller fell back to memory or a cache miss).',
  registers: [registry],
});

const redisCommandFailures = new Counter({
  name: 'redis_command_failures_total',
  help: 'Redis commands sent that got no answer, by reason: timeout (the command timeout passed) or connection (lost, refused, not writable).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const redisBreakerChanges = new Counter({
  name: 'redis_breaker_transitions_total',
  help: 'Changes of the Redis circuit breaker, by the state entered (open, closed).',
  labelNames: ['state'] as const,
  registers: [registry],
});

/** What the breaker gauge reads (src/redis/breaker.ts). */
export interface BreakerStateSource {
  readonly state: 'closed' | 'open';
}
const breakers = new Set<BreakerStateSource>();
new Gauge({
  name: 'redis_breaker_state',
  help: 'Redis circuit breaker: 1 while open (Redis silent or unreachable, its commands refused at once), 0 while closed.',
  registers: [registry],
  collect() {
    let open = 0;
    for (const breaker of breakers) if (breaker.state === 'open') open += 1;
    this.set(open);
  },
});

const pools = new Set<PoolCounts>();
function sumPools(read: (pool: PoolCounts) => number): number {
  let sum = 0;
  for (const pool of pools) sum += read(pool);
  return sum;
}
new Gauge({
  name: 'db_pool_connections',
  help: 'Open connections of the database pool (idle and in use).',
  registers: [registry],
  collect() {
    this.set(sumPools((pool) => pool.totalCount));
  },
});
new Gauge({
  name: 'db_pool_idle_connections',
  help: 'Idle connections of the database pool.',
  registers: [registry],
  collect() {
    this.set(sumPools((pool) => pool.idleCount));
  },
});
new Gauge({
  name: 'db_pool_waiting_requests',
  help: 'Queries waiting for a free connection of the database pool.',
  registers: [registry],
  collect() {
    this.set(sumPools((pool) => pool.waitingCount));
  },
});

const databaseErrors = new Counter({
  name: 'db_errors_total',
  help:
    'Database failures answered 503 or retried rather than treated as bugs, by reason: connect_failed (no connection could be opened), ' +
    'pool_timeout (no pool connection became free in time), connection_lost (a connection died, in use or idle), and statements the ' +
    'database could not finish (query_canceled: statement timeout; lock_not_available: lock timeout; serialization_failure; deadlock_detected).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const databaseOutages = new Counter({
  name: 'db_outages_total',
  help: 'Times the database became unavailable (each logged once at warn when it starts and once at info when it ends).',
  registers: [registry],
});

const readRetries = new Counter({
  name: 'db_read_retries_total',
  help: 'Reads (and BEGINs) run again on a new connection after theirs died under them, by outcome (ok, failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** What the availability gauge reads (src/db/availability.ts). */
export interface AvailabilitySource {
  readonly available: boolean;
}

const availabilitySources = new Set<AvailabilitySource>();
new Gauge({
  name: 'db_available',
  help: '1 while the database answers, 0 during an outage (from the first failed connection to the first statement that succeeds after it).',
  registers: [registry],
  collect() {
    let available = 1;
    for (const source of availabilitySources) if (!source.available) available = 0;
    this.set(available);
  },
});

const reads = new Counter({
  name: 'db_reads_total',
  help:
    'With read replicas (READ_DATABASE_URL): reads outside a transaction, by where they went (target: primary, replica-1, replica-2, ...) ' +
    'and why (reason: query for a replica; for the primary: pending (before the operation is known: authentication), mutation, recent_write ' +
    '(read-your-writes), no_replica (every replica down or lagging), replica_failed (a replica failed during the request), background ' +
    '(outside an HTTP request: jobs, live updates, probes)). Reads inside a unit of work and writes always go to the primary and are not counted.',
  labelNames: ['target', 'reason'] as const,
  registers: [registry],
});

/** One read replica as the replica gauges see it. */
export interface ReplicaObservation {
  /** `replica-1`, `replica-2`, ... */
  readonly name: string;
  /** How far behind the primary it was last measured, in seconds; undefined when unknown (down, or not measured yet). */
  readonly lagSeconds: number | undefined;
  /** Whether it serves reads now (reachable, replaying, within READ_REPLICA_MAX_LAG). */
  readonly usable: boolean;
}

const replicaSources = new Set<() => readonly ReplicaObservation[]>();
function eachReplica(visit: (replica: ReplicaObservation) => void): void {
  for (const source of replicaSources) for (const replica of source()) visit(replica);
}
new Gauge({
  name: 'db_replica_lag_seconds',
  help: 'How far each read replica is behind the primary (an upper bound, measured every poll of the replica monitor); absent while unknown.',
  labelNames: ['replica'] as const,
  registers: [registry],
  collect() {
    this.reset();
    eachReplica((replica) => {
      if (replica.lagSeconds !== undefined) this.set({ replica: replica.name }, replica.lagSeconds);
    });
  },
});
new Gauge({
  name: 'db_replica_up',
  help: '1 while a read replica serves reads, 0 while it is skipped (down, not replaying, or further behind than READ_REPLICA_MAX_LAG).',
  labelNames: ['replica'] as const,
  registers: [registry],
  collect() {
    this.reset();
    eachReplica((replica) => this.set({ replica: replica.name }, replica.usable ? 1 : 0));
  },
});

const loginReasons = new BoundedLabel(8);
const databaseErrorReasons = new BoundedLabel(16);
const rateLimits = new BoundedLabel(16);
const queryLimits = new BoundedLabel(16);

/** Counts a request refused by a rate limit; `limit` names the budget ("login", "operation_cost", ...). */
export function countRateLimitRefusal(limit: string): void {
  rateLimitRefusals.inc({ limit: rateLimits.value(limit) });
}

/** Counts an operation refused by a query limit; `limit` names it ("depth", "cost", "aliases", "tokens", "batch", ...). */
export function countQueryLimitRefusal(limit: string): void {
  queryLimitRefusals.inc({ limit: queryLimits.value(limit) });
}

/** Counts a failed sign-in; `reason` such as "invalid_credentials" or "invalid_refresh_token". */
export function countLoginFailure(reason: string): void {
  loginFailures.inc({ reason: loginReasons.value(reason) });
}

export type ResponseCacheEvent =
  | 'hit'
  | 'not_modified'
  | 'miss'
  | 'bypass'
  | 'store'
  | 'invalidation'
  | 'invalidation_deferred'
  | 'invalidation_replayed'
  | 'flush';

/** Counts an event of the shared response cache (src/cache/). */
export function countResponseCache(event: ResponseCacheEvent): void {
  responseCacheEvents.inc({ event });
}

/** Counts a Redis command refused by an open circuit breaker. */
export function countRedisCommandSkipped(): void {
  redisCommandsSkipped.inc();
}

/** Counts a Redis command that was sent and got no answer. */
export function countRedisCommandFailure(reason: 'timeout' | 'connection'): void {
  redisCommandFailures.inc({ reason });
}

/** Counts a change of a Redis circuit breaker. */
export function countRedisBreakerChange(state: 'closed' | 'open'): void {
  redisBreakerChanges.inc({ state });
}

/** Adds a breaker to the `redis_breaker_state` gauge until the returned function is called. */
export function observeRedisBreaker(breaker: BreakerStateSource): () => void {
  breakers.add(breaker);
  return () => {
    breakers.delete(breaker);
  };
}

/** Counts a database failure that is not a bug; `reason` such as "connection_lost" or "query_canceled" (see db_errors_total). */
export function countDatabaseError(reason: string): void {
  databaseErrors.inc({ reason: databaseErrorReasons.value(reason) });
}

/** Counts the start of a database outage. */
export function countDatabaseOutage(): void {
  databaseOutages.inc();
}

/** Counts a read run again on a new connection, and how it ended. */
export function countReadRetry(outcome: 'ok' | 'failed'): void {
  readRetries.inc({ outcome });
}

/** Counts one read routed by the read replicas (src/db/replicas.ts): where it went and why. */
export function countRead(target: string, reason: string): void {
  reads.inc({ target, reason });
}

/** Adds read replicas to the replica gauges until the returned function is called. */
export function observeReplicas(source: () => readonly ReplicaObservation[]): () => void {
  replicaSources.add(source);
  return () => {
    replicaSources.delete(source);
  };
}

/** Adds a pool's availability to the db_available gauge until the returned function is called. */
export function observeDatabaseAvailability(source: AvailabilitySource): () => void {
  availabilitySources.add(source);
  return () => {
    availabilitySources.delete(source);
  };
}

/** Adds a pool to the pool gauges until the returned function is called. */
export function observePool(pool: PoolCounts): () => void {
  pools.add(pool);
  return () => {
    pools.delete(pool);
  };
}

export interface HttpObservation {
  method: string;
  /** The route pattern (e.g. "/graphql"), or "unmatched": never the raw URL. */
  route: string;
  statusCode: number;
  durationSeconds: number;
  /** Codes of the request-level errors answered. */
  errorCodes: readonly string[];
  /** Statements run, for /graphql requests. */
  sqlStatements: number | undefined;
}

export function observeHttpRequest(observation: HttpObservation): void {
  httpDuration.observe(
    { method: observation.method, route: observation.route, status_code: String(observation.statusCode) },
    observation.durationSeconds,
  );
  for (const code of observation.errorCodes) errors.inc({ code: isErrorCode(code) ? code : 'OTHER' });
  if (observation.sqlStatements !== undefined) sqlPerRequest.observe(observation.sqlStatements);
}

export function observeOperation(operation: string, outcome: 'ok' | 'error', durationSeconds: number): void {
  operationDuration.observe({ operation, outcome }, durationSeconds);
}
