import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getArgumentValues,
  getDirectiveValues,
  getVariableValues,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

import type { GraphQLContext } from '../graphql/context.js';

/**
 * Asking the permission layer, before anything runs, whether the caller may
 * run an operation's root fields: the same graphql-shield rules, with the
 * same arguments, context and denial auditing that a real execution meets
 * (src/authz/shield.ts hands over the middleware it built). The idempotency
 * edge asks before it claims a key or replays a stored response, so a replay
 * answers the caller as they are now.
 *
 * Nothing resolves: each root field's rule is run with a resolver that only
 * reports "allowed".
 */
export type OperationVerdict = 'allowed' | 'refused';

export interface OperationToAuthorize {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The request's variables, as sent (coerced here the way execution would). */
  variables: unknown;
}

export type OperationAuthorizer = (ctx: GraphQLContext, request: OperationToAuthorize) => Promise<OperationVerdict>;

/** One root field's permission middleware: `(resolve, parent, args, ctx, info) => result`. */
export type RootFieldCheck = (
  resolve: () => unknown,
  parent: undefined,
  args: Record<string, unknown>,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
) => Promise<unknown>;

const ALLOWED = Symbol('allowed');
const allowedResolver = () => ALLOWED;

/**
 * An authorizer over a schema's root types. `checkFor(typeName, fieldName)`
 * is the field's permission middleware, or `undefined` when the field is
 * open to everyone (`allow`).
 *
 * An operation is refused when any root field it would run is refused, or
 * when its variables do not coerce (execution would refuse it too: the
 * caller then gets execution's own answer).
 */
export function createOperationAuthorizer(
  schema: GraphQLSchema,
  checkFor: (typeName: string, fieldName: string) => RootFieldCheck | undefined,
): OperationAuthorizer {
  return async (ctx, { document, operation, variables }) => {
    const rootType = schema.getRootType(operation.operation);
    if (!rootType) return 'refused';
    const inputs = typeof variables === 'object' && variables !== null && !Array.isArray(variables) ? (variables as Record<string, unknown>) : variables === undefined || variables === null ? {} : undefined;
    if (inputs === undefined) return 'refused';
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], inputs, { maxErrors: 1 });
    if (coerced.errors) return 'refused';
    const variableValues = coerced.coerced;
    const fragments: Record<string, FragmentDefinitionNode> = Object.create(null) as Record<string, FragmentDefinitionNode>;
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    }
    const fields = new Map<string, FieldNode[]>();
    collectFields(operation.selectionSet, fragments, variableValues, fields, new Set());
    for (const [responseName, fieldNodes] of fields) {
      const node = fieldNodes[0] as FieldNode;
      const fieldName = node.name.value;
      if (fieldName === '__typename') continue;
      const field = rootType.getFields()[fieldName];
      if (!field) return 'refused';
      const check = checkFor(rootType.name, fieldName);
      if (!check) continue;
      let args: Record<string, unknown>;
      try {
        args = getArgumentValues(field, node, variableValues);
      } catch {
        return 'refused';
      }
      const info: GraphQLResolveInfo = {
        fieldName,
        fieldNodes,
        returnType: field.type,
        parentType: rootType,
        path: { prev: undefined, key: responseName, typename: rootType.name },
        schema,
        fragments,
        rootValue: undefined,
        operation,
        variableValues,
      };
      if ((await check(allowedResolver, undefined, args, ctx, info)) !== ALLOWED) return 'refused';
    }
    return 'allowed';
  };
}

/** The root fields the operation would run, by response name, as execution collects them (`@skip`/`@include` honoured). */
function collectFields(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  into: Map<string, FieldNode[]>,
  visited: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (!included(selection, variables)) continue;
    switch (selection.kind) {
      case Kind.FIELD: {
        const name = selection.alias?.value ?? selection.name.value;
        const list = into.get(name);
        if (list) list.push(selection);
        else into.set(name, [selection]);
        break;
      }
      case Kind.INLINE_FRAGMENT:
        collectFields(selection.selectionSet, fragments, variables, into, visited);
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = selection.name.value;
        const fragment = fragments[name];
        if (visited.has(name) || !fragment) break;
        visited.add(name);
        collectFields(fragment.selectionSet, fragments, variables, into, visited);
        break;
      }
    }
  }
}

function included(node: SelectionSetNode['selections'][number], variables: Record<string, unknown>): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] !== false;
}
