/**
 * The vocabulary shared by the response cache's two sides: what a stored
 * response depends on (collected while it is resolved, src/cache/tag-collection.ts)
 * and what a committed write changed (src/scope/changes.ts; each module maps
 * its change kinds to tags in its descriptor's `changeTags`). A change drops
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
/** Tag of one object. */
export function objectTag(type: string, id: string): string {
  return `${type}:${id}`;
}

/** Tag of every set of objects of `type` (lists, pages, lookups that found nothing). */
export function setTag(type: string): string {
  return `${type}:*`;
}
