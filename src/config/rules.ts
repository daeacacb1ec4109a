/**
 * Rules that span several variables, checked once each variable has been
 * read on its own. A rule about a variable that is itself invalid stays
 * silent, so each mistake is reported once. Each rule's summary goes into
 * the generated reference.
 */
import type { Values } from './variables.js';

export interface CrossFieldRule {
  /** The rule as the reference states it (Markdown). */
  summary: string;
  /** The problem, when the values break the rule; `invalid(name)` tells whether a variable (or its `_FILE`) was already refused. */
  check(values: Values, invalid: (name: string) => boolean): string | undefined;
}

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  {
    summary: '`QUERY_MAX_COST` is at most `RATE_LIMIT_BUDGET`: a query over the whole budget could never run.',
    check: (values) =>
      values.QUERY_MAX_COST > values.RATE_LIMIT_BUDGET
        ? 'QUERY_MAX_COST must not exceed RATE_LIMIT_BUDGET (a query over the whole budget could never run)'
        : undefined,
  },
  {
    summary: '`SHUTDOWN_DRAIN_DELAY_MS` is 0 or less than `SHUTDOWN_TIMEOUT_MS`: the delay is the first part of the shutdown budget.',
    check: ({ SHUTDOWN_DRAIN_DELAY_MS: delay, SHUTDOWN_TIMEOUT_MS: timeout }) =>
      delay > 0 && delay >= timeout
        ? `SHUTDOWN_DRAIN_DELAY_MS (${delay}) must be less than SHUTDOWN_TIMEOUT_MS (${timeout}): ` +
          'the delay is the first part of the shutdown budget and requests still running need the rest; ' +
          'raise SHUTDOWN_TIMEOUT_MS or lower SHUTDOWN_DRAIN_DELAY_MS (0 turns the delay off)'
        : undefined,
  },
  {
    summary: '`HEADERS_TIMEOUT_MS` is at most `REQUEST_TIMEOUT_MS`.',
    check: (values) => (values.HEADERS_TIMEOUT_MS > values.REQUEST_TIMEOUT_MS ? 'HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS' : undefined),
  },
  {
    summary: '`RESPONSE_CACHE=redis` needs `REDIS_URL` (or `REDIS_URL_FILE`).',
    check: (values, invalid) =>
      values.RESPONSE_CACHE === 'redis' && values.REDIS_URL === undefined && !invalid('REDIS_URL')
        ? 'RESPONSE_CACHE=redis needs REDIS_URL (or REDIS_URL_FILE); use RESPONSE_CACHE=memory for a single instance'
        : undefined,
  },
  {
    summary: '`OIDC_ISSUER`, `OIDC_AUDIENCE` and `OIDC_JWKS_URL` are set together or not at all.',
    check: (values, invalid) => {
      const set = [values.OIDC_ISSUER, values.OIDC_AUDIENCE, values.OIDC_JWKS_URL].filter((value) => value !== undefined).length;
      return set > 0 && set < 3 && !invalid('OIDC_JWKS_URL') ? 'OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL must be set together' : undefined;
    },
  },
  {
    summary: 'In production (`NODE_ENV=production`), `JWT_SIGNING_KEYS` (or `JWT_SIGNING_KEYS_FILE`) is required.',
    check: (values, invalid) =>
      values.NODE_ENV === 'production' && values.JWT_SIGNING_KEYS === undefined && !invalid('JWT_SIGNING_KEYS')
        ? 'JWT_SIGNING_KEYS must be set in production (a JWK set of private signing keys: npm run -s keys:generate), or JWT_SIGNING_KEYS_FILE naming a file that holds it'
        : undefined,
  },
  {
    // The embedded PostgreSQL is a development convenience: a production
    // server without DATABASE_URL is a deployment mistake, not a fallback.
    summary: 'In production, `DATABASE_URL` (or `DATABASE_URL_FILE`) is required: the embedded PostgreSQL is for development only.',
    check: (values, invalid) =>
      values.NODE_ENV === 'production' && values.DATABASE_URL === undefined && !invalid('DATABASE_URL')
        ? 'DATABASE_URL must be set in production (the embedded PostgreSQL is for development only)'
        : undefined,
  },
  {
    summary:
      '`DATABASE_POOLER=transaction` needs `DATABASE_URL` (the pooler) and `DATABASE_DIRECT_URL` (the database itself, for LISTEN, migrations and the job worker).',
    check: (values, invalid) => {
      if (values.DATABASE_POOLER !== 'transaction') return undefined;
      const missing = [
        values.DATABASE_URL === undefined && !invalid('DATABASE_URL') ? 'DATABASE_URL (the pooler)' : undefined,
        values.DATABASE_DIRECT_URL === undefined && !invalid('DATABASE_DIRECT_URL') ? 'DATABASE_DIRECT_URL (a direct connection for LISTEN, migrations and the job worker)' : undefined,
      ].filter((name) => name !== undefined);
      return missing.length > 0 ? `DATABASE_POOLER=transaction needs ${missing.join(' and ')}` : undefined;
    },
  },
  {
    summary: '`READ_DATABASE_URL` needs `DATABASE_URL`: the embedded PostgreSQL has no replicas.',
    check: (values, invalid) =>
      values.READ_DATABASE_URL !== undefined && values.DATABASE_URL === undefined && !invalid('DATABASE_URL')
        ? 'READ_DATABASE_URL needs DATABASE_URL (the primary the replicas follow); the embedded PostgreSQL has no replicas'
        : undefined,
  },
  {
    summary: 'In production, `SEED_DEMO_DATA=true` is refused: the demo accounts share a published password.',
    check: (values) =>
      values.NODE_ENV === 'production' && values.SEED_DEMO_DATA
        ? 'SEED_DEMO_DATA=true is refused in production: the demo accounts share a published password'
        : undefined,
  },
  {
    summary: 'In production, `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` is refused: webhooks would reach the internal network.',
    check: (values) =>
      values.NODE_ENV === 'production' && values.WEBHOOK_ALLOW_PRIVATE_TARGETS
        ? 'WEBHOOK_ALLOW_PRIVATE_TARGETS=true is refused in production: webhooks would reach loopback and private addresses (SSRF)'
        : undefined,
  },
];

/** Problems of combinations, in the order of the rules. */
export function crossFieldProblems(values: Values, invalid: (name: string) => boolean): string[] {
  return CROSS_FIELD_RULES.map((rule) => rule.check(values, invalid)).filter((problem) => problem !== undefined);
}
