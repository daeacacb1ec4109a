import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

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
  const [first, ...rest] = path;
  if (first === undefined) return true;
  const seen = new Set<string>();
  const fieldsNamed = (set: SelectionSetNode | undefined, found: FieldNode[]): FieldNode[] => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD && selection.name.value === first) found.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fieldsNamed(selection.selectionSet, found);
      else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        fieldsNamed(info.fragments[selection.name.value]?.selectionSet, found);
      }
    }
    return found;
  };
  const found: FieldNode[] = [];
  for (const node of info.fieldNodes) fieldsNamed(node.selectionSet, found);
  return found.length > 0 && selectsPath({ fieldNodes: found, fragments: info.fragments }, rest);
}
