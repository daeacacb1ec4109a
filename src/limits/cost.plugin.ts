import type { ApolloServerPlugin } from '@apollo/server';

import { AppError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { actualCost, requestedCost, DEFAULT_COST_WEIGHTS, type CostWeights } from './cost.js';
import type { CostLimiter } from './cost-limiter.js';
import { queryTooComplex } from './query-limits.js';
import { countRateLimitRefusal } from '../observability/metrics.js';

export interface CostPluginOptions {
  /** Largest requested cost one operation may have (QUERY_MAX_COST). */
  maxCost: number;
  limiter: CostLimiter;
  weights?: CostWeights;
}

/** Name of the one policy in the RateLimit header fields. */
export const RATE_LIMIT_POLICY = 'default';

/** Whose budget pays: the user, the API key, or the IP address of an anonymous caller. */
export function principalOf(context: GraphQLContext): string {
  const { viewer } = context;
  if (viewer?.via === 'api_key' && viewer.apiKeyId) return `api-key:${viewer.apiKeyId}`;
  if (viewer) return `user:${viewer.userId}`;
  return `ip:${context.request.ip}`;
}

/**
 * Query cost and the cost budget, for every operation:
 * - before execution, the requested cost (src/limits/cost.ts) is checked
 *   against `maxCost` (`QUERY_TOO_COMPLEX`) and charged to the principal's
 *   budget (`RATE_LIMITED`, 429 with `Retry-After`, when it does not fit);
 * - after execution, the unused part (requested minus actual) is refunded;
 * - the response carries `extensions.cost { requested, actual, remaining }`
 *   and the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers):
 *   `RateLimit-Policy: "default";q=<budget>;w=<window s>` and
 *   `RateLimit: "default";r=<remaining>;t=<s until reset>`.
 *
 * A limiter failure that even the insurance limiter did not absorb is logged
 * and the operation runs uncharged: availability over accounting.
 */
export function costPlugin({ maxCost, limiter, weights = DEFAULT_COST_WEIGHTS }: CostPluginOptions): ApolloServerPlugin<GraphQLContext> {
  const policy = `"${RATE_LIMIT_POLICY}";q=${limiter.budget};w=${limiter.windowSeconds}`;
  return {
    async requestDidStart() {
      let charged: { principal: string; requested: number; windowEndsAt: number } | undefined;
      let refused: { requested: number; remaining: number } | undefined;
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue, response }) {
          if (!operation) return;
          const requested = requestedCost({ schema, document, operation, variables: request.variables, weights });
          if (requested > maxCost) throw queryTooComplex('cost', maxCost, requested);
          const principal = principalOf(contextValue);
          let result;
          try {
            result = await limiter.charge(principal, requested);
          } catch (error) {
            contextValue.log.error({ err: error }, 'query-cost limiter failed; operation runs uncharged');
            return;
          }
          const { headers } = response.http;
          headers.set('ratelimit-policy', policy);
          headers.set('ratelimit', `"${RATE_LIMIT_POLICY}";r=${result.remaining};t=${result.resetSeconds}`);
          if (!result.allowed) {
            refused = { requested, remaining: result.remaining };
            countRateLimitRefusal('operation_cost');
            headers.set('retry-after', String(result.retryAfterSeconds));
            throw new AppError(
              'RATE_LIMITED',
              `This operation costs ${requested} points and ${result.remaining} are left in this window; retry after ${result.retryAfterSeconds} s.`,
              { retryAfterSeconds: result.retryAfterSeconds },
            );
          }
          charged = { principal, requested, windowEndsAt: result.windowEndsAt };
        },

        async willSendResponse({ document, operation, response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (refused) {
            result.extensions = { ...result.extensions, cost: { requested: refused.requested, actual: 0, remaining: refused.remaining } };
            return;
          }
          if (!charged || !document || !operation) return;
          const actual = Math.min(actualCost({ document, operation, data: result.data, weights }), charged.requested);
          let state;
          try {
            state = await limiter.refund(charged.principal, charged.requested - actual, charged.windowEndsAt);
          } catch (error) {
            contextValue.log.error({ err: error }, 'query-cost refund failed');
            state = null;
          }
          if (state) response.http.headers.set('ratelimit', `"${RATE_LIMIT_POLICY}";r=${state.remaining};t=${state.resetSeconds}`);
          const remaining = state?.remaining ?? null;
          result.extensions = { ...result.extensions, cost: { requested: charged.requested, actual, remaining } };
        },
      };
    },
  };
}
