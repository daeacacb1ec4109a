/**
 * Rules that span several variables, checked once each variable has been
 * read on its own. A rule about a variable that is itself invalid stays
 * silent, so each mistake is reported once.
 */
import type { Values } from './variables.js';

/** Problems of combinations; `invalid(name)` tells whether a variable (or its `_FILE`) was already refused. */
export function crossFieldProblems(values: Values, invalid: (name: string) => boolean): string[] {
  const problems: string[] = [];
  if (values.QUERY_MAX_COST > values.RATE_LIMIT_BUDGET) {
    problems.push('QUERY_MAX_COST must not exceed RATE_LIMIT_BUDGET (a query over the whole budget could never run)');
  }
  if (values.SHUTDOWN_DRAIN_DELAY_MS > 0 && values.SHUTDOWN_DRAIN_DELAY_MS >= values.SHUTDOWN_TIMEOUT_MS) {
    problems.push(
      `SHUTDOWN_DRAIN_DELAY_MS (${values.SHUTDOWN_DRAIN_DELAY_MS}) must be less than SHUTDOWN_TIMEOUT_MS (${values.SHUTDOWN_TIMEOUT_MS}): ` +
        'the delay is the first part of the shutdown budget and requests still running need the rest; ' +
        'raise SHUTDOWN_TIMEOUT_MS or lower SHUTDOWN_DRAIN_DELAY_MS (0 turns the delay off)',
    );
  }
  if (values.HEADERS_TIMEOUT_MS > values.REQUEST_TIMEOUT_MS) {
    problems.push('HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS');
  }
  if (values.RESPONSE_CACHE === 'redis' && values.REDIS_URL === undefined && !invalid('REDIS_URL')) {
    problems.push('RESPONSE_CACHE=redis needs REDIS_URL (or REDIS_URL_FILE); use RESPONSE_CACHE=memory for a single instance');
  }
  const oidc = [values.OIDC_ISSUER, values.OIDC_AUDIENCE, values.OIDC_JWKS_URL];
  const oidcSet = oidc.filter((value) => value !== undefined).length;
  if (oidcSet > 0 && oidcSet < oidc.length && !invalid('OIDC_JWKS_URL')) {
    problems.push('OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL must be set together');
  }
  if (values.NODE_ENV === 'production') {
    if (values.JWT_SIGNING_KEYS === undefined && !invalid('JWT_SIGNING_KEYS')) {
      problems.push(
        'JWT_SIGNING_KEYS must be set in production (a JWK set of private signing keys: npm run -s keys:generate), or JWT_SIGNING_KEYS_FILE naming a file that holds it',
      );
    }
    // The embedded PostgreSQL is a development convenience: a production
    // server without DATABASE_URL is a deployment mistake, not a fallback.
    if (values.DATABASE_URL === undefined && !invalid('DATABASE_URL')) {
      problems.push('DATABASE_URL must be set in production (the embedded PostgreSQL is for development only)');
    }
    // Demo accounts share a published password.
    if (values.SEED_DEMO_DATA) {
      problems.push('SEED_DEMO_DATA=true is refused in production: the demo accounts share a published password');
    }
  }
  return problems;
}
