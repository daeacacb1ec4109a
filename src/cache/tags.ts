/**
 * The vocabulary shared by the response cache's two sides: what a stored
 * response depends on (collected while it is resolved, src/cache/tag-collection.ts)
 * and what a committed write changed (src/scope/changes.ts). A change drops
 * every stored response that carries one of its tags.
 *
 * - `Product:<id>` (one per object type with a global id): the response
 *   shows that object, or asked for it by id and got `null` (hidden, deleted).
 * - `Product:*`: the response holds a set whose members a change to any
 *   product may alter: a list or page of products (catalogue, a category's
 *   products, search: a new price, status, stock or category can move a
 *   product into or out of any page), or a `null` where a product was
 *   expected (publishing or restoring any product might fill it).
 */
import type { Change } from '../scope/changes.js';

/** Tag of one object. */
export function objectTag(type: string, id: string): string {
  return `${type}:${id}`;
}

/** Tag of every set of objects of `type` (lists, pages, lookups that found nothing). */
export function setTag(type: string): string {
  return `${type}:*`;
}

/** Every tag a change invalidates. */
export function tagsOfChange(change: Change): string[] {
  switch (change.entity) {
    case 'product':
      return [objectTag('Product', change.id), setTag('Product')];
    case 'category':
      return [objectTag('Category', change.id), setTag('Category')];
    case 'user':
      return [objectTag('User', change.id), setTag('User')];
    case 'review':
      // The product's rating, review count and review pages move with its reviews.
      return [objectTag('Review', change.id), setTag('Review'), objectTag('Product', change.productId)];
    case 'order':
      // No anonymous response shows an order (at most a `null` where one was
      // asked for); the stock an order takes or gives back is announced as
      // product changes.
      return [objectTag('Order', change.id), setTag('Order')];
  }
}

/** The distinct tags of a batch of changes. */
export function tagsOfChanges(changes: readonly Change[]): string[] {
  const tags = new Set<string>();
  for (const change of changes) for (const tag of tagsOfChange(change)) tags.add(tag);
  return [...tags];
}
