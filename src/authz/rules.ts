import { rule } from './shield-lib.js';

import { actsAsAdmin } from '../auth/viewer.js';
import { appError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';

/**
 * The building blocks of the permission map. A rule answers `true` or an
 * error from the registry: UNAUTHENTICATED when there is no viewer,
 * FORBIDDEN when the viewer lacks the role, scope or ownership.
 *
 * Caching: `contextual` rules depend only on the viewer and are evaluated
 * once per request. Rules that read the parent object or the arguments are
 * `no_cache`: each is a comparison or two, while graphql-shield's `strict`
 * cache would hash the whole parent and arguments (object-hash) on every
 * call to find the answer again, which cost more than the rule itself (one
 * such hash was 2 % of a catalogue request's CPU).
 */

const unauthenticated = () => appError('UNAUTHENTICATED', 'Sign in to do this.');
const forbidden = (message = 'You are not allowed to do this.') => appError('FORBIDDEN', message);

/** Admin rights are exercised in person only: an admin's API key carries no admin rights. */
export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.role !== 'ADMIN') return forbidden();
  return actsAsAdmin(ctx.viewer) ? true : forbidden('API keys cannot perform admin operations.');
});

/**
 * Account and admin operations are for people, never for API keys: a key
 * cannot mint keys, change passwords or roles, or end sessions.
 */
export const isPersonalSession = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return ctx.viewer.via === 'api_key' ? forbidden('API keys cannot perform account operations.') : true;
});

/** Public catalogue reads: anyone, except an API key without `catalog:read`. */
export const canReadCatalog = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer || ctx.viewer.scopes === null || ctx.viewer.scopes.has('catalog:read')) return true;
  return forbidden('This API key lacks the catalog:read scope.');
});

/** The parent User is the viewer. */
export const isSelf = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.id === ctx.viewer.userId ? true : forbidden('Only the user may see this.');
});

/** The parent User is the viewer, or the viewer is an admin in person. */
export const isSelfOrAdmin = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.id === ctx.viewer.userId || actsAsAdmin(ctx.viewer) ? true : forbidden('Only the user and admins may see this.');
});

/** The parent row (session, API key) belongs to the viewer, who is signed in person (not with a key). */
export const ownsParent = rule({ cache: 'no_cache' })((parent: { user_id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.user_id === ctx.viewer.userId && ctx.viewer.via !== 'api_key' ? true : forbidden();
});

/** The parent product belongs to the viewer (its seller), or the viewer is an admin in person. */
export const ownsProductOrAdmin = rule({ cache: 'no_cache' })((parent: { seller_id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.seller_id === ctx.viewer.userId || actsAsAdmin(ctx.viewer) ? true : forbidden();
});

/** `filter.includeDeleted` is for admins only. */
export const includeDeletedOnlyForAdmins = rule({ cache: 'no_cache' })(
  (_parent, args: { filter?: { includeDeleted?: boolean | null } | null }, ctx: GraphQLContext) => {
    if (!args.filter?.includeDeleted) return true;
    if (!ctx.viewer) return unauthenticated();
    return actsAsAdmin(ctx.viewer) ? true : forbidden('Only admins may list deleted records.');
  },
);

/** Catalogue writes: sellers and admins; an API key needs `catalog:write`. Which products: checked by the service (owner or admin). */
export const canWriteCatalog = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.role !== 'SELLER' && ctx.viewer.role !== 'ADMIN') return forbidden('Only sellers and admins manage products.');
  if (ctx.viewer.scopes !== null && !ctx.viewer.scopes.has('catalog:write')) return forbidden('This API key lacks the catalog:write scope.');
  return true;
});

/** Order reads: signed in; an API key needs `orders:read`. Which orders: the service decides (customer, seller, admin). */
export const canReadOrders = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.scopes !== null && !ctx.viewer.scopes.has('orders:read')) return forbidden('This API key lacks the orders:read scope.');
  return true;
});

/** A seller's sales (and any for admins): signed in as a SELLER or ADMIN; an API key needs `orders:read`. */
export const canReadSales = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.role !== 'SELLER' && ctx.viewer.role !== 'ADMIN') return forbidden('Only sellers follow their sales.');
  if (ctx.viewer.scopes !== null && !ctx.viewer.scopes.has('orders:read')) return forbidden('This API key lacks the orders:read scope.');
  return true;
});

/**
 * Buying and fulfilling: signed in; an API key needs `orders:write`. Any role
 * may buy; which orders a caller may cancel, ship or deliver is the service's
 * call (its customer, its seller), so a key never does more than its owner.
 */
export const canWriteOrders = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.scopes !== null && !ctx.viewer.scopes.has('orders:write')) return forbidden('This API key lacks the orders:write scope.');
  return true;
});

/** The parent review was written by the viewer, or the viewer is an admin in person. */
export const isReviewAuthorOrAdmin = rule({ cache: 'no_cache' })((parent: { author_id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.author_id === ctx.viewer.userId || actsAsAdmin(ctx.viewer) ? true : forbidden();
});

/**
 * Review writes: any signed-in user; an API key needs `reviews:write`. Which
 * product or review: checked by the service (the ABAC rule, the author, or an admin).
 */
export const canWriteReviews = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.scopes !== null && !ctx.viewer.scopes.has('reviews:write')) return forbidden('This API key lacks the reviews:write scope.');
  return true;
});

/** Webhook management: sellers and admins, in person (an endpoint's secret is an account credential; API keys never manage it). */
export const canManageWebhooks = rule({ cache: 'contextual' })((_parent, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  if (ctx.viewer.via === 'api_key') return forbidden('API keys cannot manage webhooks.');
  return ctx.viewer.role === 'SELLER' || ctx.viewer.role === 'ADMIN' ? true : forbidden('Only sellers and admins manage webhooks.');
});

/** The parent row (webhook endpoint, delivery) belongs to the viewer, who is signed in person. */
export const ownsWebhookParent = rule({ cache: 'no_cache' })((parent: { owner_id: string }, _args, ctx: GraphQLContext) => {
  if (!ctx.viewer) return unauthenticated();
  return parent.owner_id === ctx.viewer.userId && ctx.viewer.via !== 'api_key' ? true : forbidden();
});
