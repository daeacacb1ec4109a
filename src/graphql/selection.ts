import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

import type { Join, JoinableRelations } from '../db/joined.js';

type Fragments = GraphQLResolveInfo['fragments'];

/** The fields named `name` directly under `nodes` (through inline fragments and fragment spreads too). */
function fieldsNamed(nodes: readonly FieldNode[], fragments: Readonly<Record<string, FragmentDefinitionNode | undefined>>, name: string): FieldNode[] {
  const found: FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD && selection.name.value === name) found.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        walk(fragments[selection.name.value]?.selectionSet);
      }
    }
  };
  for (const node of nodes) walk(node.selectionSet);
  return found;
}

/** The fields at `path` below `nodes`, under the rules of `selectsField` at every step. */
function fieldsAt(nodes: readonly FieldNode[], fragments: Fragments, path: readonly string[]): FieldNode[] {
  let current: readonly FieldNode[] = nodes;
  for (const name of path) {
    if (current.length === 0) break;
    current = fieldsNamed(current, fragments, name);
  }
  return [...current];
}

/**
 * Whether the client asked for `name` directly under the field being
 * resolved (through inline fragments and fragment spreads too). A resolver
 * uses it to fetch something in the same statement only when it is wanted.
 * `@skip`/`@include` are not evaluated: a field that might be skipped counts
 * as asked for, which costs at most the work the separate fetch would have.
 */
export function selectsField(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, name: string): boolean {
  return selectsPath(info, [name]);
}

/**
 * Whether the client asked for the field at `path` below the field being
 * resolved (`['nodes', 'seller']`), under the same rules as `selectsField`
 * at every step.
 */
export function selectsPath(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): boolean {
  return fieldsAt(info.fieldNodes, info.fragments, path).length > 0;
}

function joinsUnder(nodes: readonly FieldNode[], fragments: Fragments, relations: JoinableRelations): Join[] {
  const joins: Join[] = [];
  for (const [relation, joinable] of Object.entries(relations)) {
    const found = fieldsNamed(nodes, fragments, relation);
    if (found.length === 0) continue;
    const nested = joinable.relations ? joinsUnder(found, fragments, joinable.relations()) : [];
    joins.push({ relation, foreignKey: joinable.foreignKey, target: joinable.target, nested });
  }
  return joins;
}

/** Per field (its nodes are the same object for every item of a list and every run of a compiled document), per relation map and path. */
const joinCache = new WeakMap<readonly FieldNode[], Map<JoinableRelations, Map<string, Join[]>>>();

/**
 * The one-to-one relations the client selected on the objects at any of
 * `paths` below the field being resolved (`[['nodes'], ['edges', 'node']]`
 * for a connection, `[[]]` for the field's own object), followed into the
 * relations of what they lead to: the joins that read them in the parent's
 * statement. Answered from a cache for the same field nodes, so a resolver
 * called once per list item walks the selection once.
 */
export function selectedJoins(
  info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>,
  paths: readonly (readonly string[])[],
  relations: JoinableRelations,
): Join[] {
  let byRelations = joinCache.get(info.fieldNodes);
  if (!byRelations) {
    byRelations = new Map();
    joinCache.set(info.fieldNodes, byRelations);
  }
  let byPath = byRelations.get(relations);
  if (!byPath) {
    byPath = new Map();
    byRelations.set(relations, byPath);
  }
  const key = paths.map((path) => path.join('.')).join('|');
  let joins = byPath.get(key);
  if (!joins) {
    const nodes = paths.flatMap((path) => fieldsAt(info.fieldNodes, info.fragments, path));
    joins = nodes.length === 0 ? [] : joinsUnder(nodes, info.fragments, relations);
    byPath.set(key, joins);
  }
  return joins;
}

/** The paths of a connection's items: `nodes` and `edges.node`. */
export const CONNECTION_ITEMS: readonly (readonly string[])[] = [['nodes'], ['edges', 'node']];
/** The field's own object (or each item of its list). */
export const OWN_OBJECT: readonly (readonly string[])[] = [[]];
