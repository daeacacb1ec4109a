import { hasEffects } from '../scope/effects.js';
import type { GraphQLContext } from './context.js';

type Resolver = (parent: unknown, args: unknown, ctx: GraphQLContext, info: unknown) => unknown;

/**
 * The one place where service effects meet GraphQL: every Mutation resolver
 * is wrapped so that a result carrying `effects` (set a cookie, act as the
 * signed-in user) has them applied to the request, and the payload goes on
 * without them.
 */
export function applyingEffects<R extends object>(resolvers: R): R {
  const mutation = (resolvers as { Mutation?: unknown }).Mutation;
  if (!mutation || typeof mutation !== 'object') return resolvers;
  const wrapped: Record<string, Resolver> = {};
  for (const [field, resolver] of Object.entries(mutation as Record<string, unknown>)) {
    if (typeof resolver !== 'function') throw new Error(`Mutation.${field} must be a function resolver`);
    const resolve = resolver as Resolver;
    wrapped[field] = async (parent, args, ctx, info) => {
      const result = await resolve(parent, args, ctx, info);
      if (!hasEffects(result)) return result;
      const { effects, ...payload } = result;
      for (const effect of effects) {
        // Apollo hands resolvers its own copy of the context: the viewer is changed on that copy.
        if (effect.kind === 'actAs') ctx.viewer = effect.viewer;
        else ctx.effects.apply(effect);
      }
      return payload;
    };
  }
  return { ...resolvers, Mutation: wrapped };
}
