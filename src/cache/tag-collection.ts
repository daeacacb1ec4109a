/**
 * Collects, while a response is resolved, the tags of what it shows
 * (src/cache/tags.ts), so a write can drop exactly the stored responses it
 * touches. Tags come from the resolved values, by the schema's types, not
 * from module code: every field whose type is an object with a global id
 * (`Product`, `[Review!]`, `Node`) tags the rows it returns, every
 * connection tags the set it pages, and a `null` where an object was
 * expected tags the set of its type. A field added later is covered by its
 * type alone.
 *
 * Only requests that may be stored carry a tag set (`context.responseCache`);
 * for every other request the wrappers hand the resolver's value through.
 */
import {
  defaultFieldResolver,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';

import { objectTag, setTag } from './tag-names.js';

/** What a request that may be stored carries in its GraphQL context. */
export interface ResponseCapture {
  /** Tags of everything the response shows. */
  readonly tags: Set<string>;
  /** Whether the operation is a query (set once the operation is known); only queries are stored. */
  query: boolean;
}

interface CaptureHolder {
  responseCache?: ResponseCapture;
  nodeTypes?: WeakMap<object, string>;
}

type Collect = (tags: Set<string>, value: unknown, context: CaptureHolder) => void;

const NODE_INTERFACE = 'Node';

function implementsNode(type: GraphQLNamedType): boolean {
  return isObjectType(type) && type.getInterfaces().some((iface) => iface.name === NODE_INTERFACE);
}

function idOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/** Tags one object of a known type: its own tag, or the set's when there is no object (or no id to name it by). */
function tagObject(tags: Set<string>, type: string, value: unknown): void {
  const id = value instanceof Promise ? undefined : idOf(value);
  tags.add(id === undefined ? setTag(type) : objectTag(type, id));
}

/** A `Node` value's type is what `node`/`nodes` recorded; without it, any type may be meant. */
function tagNode(tags: Set<string>, nodeTypeNames: readonly string[], value: unknown, context: CaptureHolder): void {
  const type = value !== null && typeof value === 'object' ? context.nodeTypes?.get(value) : undefined;
  const id = idOf(value);
  if (type !== undefined && id !== undefined) {
    tags.add(objectTag(type, id));
    return;
  }
  for (const name of nodeTypeNames) tags.add(setTag(name));
}

/** How a field's value is tagged, from its type; undefined for fields that show no object with an id. */
function collectorFor(returnType: GraphQLOutputType, nodeTypeNames: readonly string[]): Collect | undefined {
  const named = getNamedType(returnType);
  const list = isListType(getNullableType(returnType));
  if (implementsNode(named)) {
    const type = named.name;
    if (!list) return (tags, value) => tagObject(tags, type, value);
    return (tags, value) => {
      // A list's membership is a set: any change to the type may alter it.
      tags.add(setTag(type));
      if (Array.isArray(value)) for (const item of value as unknown[]) tagObject(tags, type, item);
    };
  }
  if (isInterfaceType(named) && named.name === NODE_INTERFACE) {
    return (tags, value, context) => {
      if (Array.isArray(value)) for (const item of value as unknown[]) tagNode(tags, nodeTypeNames, item, context);
      else tagNode(tags, nodeTypeNames, value, context);
    };
  }
  // A connection (`ProductConnection`): its page is a set; `edges.node` and `nodes` tag the rows.
  if (isObjectType(named)) {
    const nodes = named.getFields()['nodes'];
    const element = nodes ? getNamedType(nodes.type) : undefined;
    if (element && implementsNode(element)) {
      const tag = setTag(element.name);
      return (tags) => tags.add(tag);
    }
  }
  return undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function tagging(resolve: GraphQLFieldResolver<unknown, unknown>, collect: Collect): GraphQLFieldResolver<unknown, unknown> {
  return (parent, args, contextValue, info) => {
    const value = resolve(parent, args, contextValue, info);
    const context = contextValue as CaptureHolder | undefined;
    const tags = context?.responseCache?.tags;
    if (!tags || !context) return value;
    if (isPromiseLike(value)) {
      return Promise.resolve(value).then((resolved) => {
        collect(tags, resolved, context);
        return resolved;
      });
    }
    collect(tags, value, context);
    return value;
  };
}

/**
 * Wraps, in place, the resolver of every field whose value shows objects
 * with global ids, so that requests carrying a `ResponseCapture` collect
 * their tags. Apply it to the final schema (after the permission layer).
 * Returns the schema for chaining.
 */
export function collectCacheTags(schema: GraphQLSchema): GraphQLSchema {
  const types = Object.values(schema.getTypeMap()).filter((type) => !type.name.startsWith('__'));
  const nodeTypeNames = types.filter(implementsNode).map((type) => type.name);
  for (const type of types) {
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const collect = collectorFor(field.type, nodeTypeNames);
      if (collect) field.resolve = tagging(field.resolve ?? defaultFieldResolver, collect);
    }
  }
  return schema;
}
