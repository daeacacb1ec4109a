/**
 * Query cost, computed from the document before anything runs (the requested
 * cost) and from the response afterwards (the actual cost).
 *
 * The model (Shopify's, with GitHub's weighing of connections):
 * - a field returning an object costs 1, a scalar or enum costs 0;
 * - a list multiplies the cost of its items: a connection's `nodes` and
 *   `edges` by the connection's `first` or `last` (default page size when
 *   neither is given, never more than the largest page), `nodes(ids:)` by the
 *   number of ids, any other list by `defaultListSize`;
 * - the multipliers compound down the tree, so
 *   `products(first: 100) { nodes { category { products(first: 100) { nodes { id } } } } }`
 *   costs about 100 x 100;
 * - each root field of a mutation adds `mutationCost`.
 *
 * The actual cost applies the same weights to what the response holds: a list
 * counts the items it returned, a `null` object counts nothing. It never
 * exceeds the requested cost.
 */
import {
  Kind,
  OperationTypeNode,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  typeFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../pagination/connection.js';

export interface CostWeights {
  /** Page size assumed for a connection without `first`/`last` (the server's default page). */
  defaultPageSize: number;
  /** Largest page a connection serves; larger values are refused by the resolver, so never counted beyond it. */
  maxPageSize: number;
  /** Items assumed for a list that has no size argument (e.g. `categories`). */
  defaultListSize: number;
  /** Added for each root field of a mutation (writes are dearer than reads). */
  mutationCost: number;
}

export const DEFAULT_COST_WEIGHTS: CostWeights = {
  // The pages the connection resolvers serve: counted as they are served.
  defaultPageSize: DEFAULT_PAGE_SIZE,
  maxPageSize: MAX_PAGE_SIZE,
  defaultListSize: 20,
  mutationCost: 10,
};

/** Costs above this are reported as this (they are refused long before). */
const COST_CEILING = Number.MAX_SAFE_INTEGER;

export interface CostInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Raw request variables (not yet coerced: unknown shapes are tolerated). */
  variables: Record<string, unknown> | undefined;
  weights?: CostWeights;
}

type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

function fragmentsOf(document: DocumentNode): Fragments {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) map.set(definition.name.value, definition);
  }
  return map;
}

function isConnectionField(field: GraphQLField<unknown, unknown>): boolean {
  return getNamedType(field.type).name.endsWith('Connection') && field.args.some((a) => a.name === 'first' || a.name === 'last');
}

/** The requested cost of one operation of a validated document. */
export function requestedCost({ schema, document, operation, variables = {}, weights = DEFAULT_COST_WEIGHTS }: CostInput): number {
  const fragments = fragmentsOf(document);
  // A fragment's cost depends only on the fragment and the connection page around it: computed once per pair.
  const fragmentCost = new Map<string, number>();

  function argument(node: FieldNode, name: string): ValueNode | undefined {
    return node.arguments?.find((a) => a.name.value === name)?.value;
  }

  function variableDefault(name: string): ValueNode | undefined {
    return operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
  }

  /** An Int argument as sent (literal or variable), or undefined when absent or not an integer. */
  function intArgument(node: FieldNode, name: string): number | undefined {
    let value = argument(node, name);
    if (value?.kind === Kind.VARIABLE) {
      const raw = variables[value.name.value];
      if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
      if (raw !== undefined && raw !== null) return undefined;
      value = variableDefault(value.name.value);
    }
    return value?.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
  }

  /** Length of a list argument (a single value counts as a list of one). */
  function listLength(node: FieldNode, name: string): number | undefined {
    let value = argument(node, name);
    if (value === undefined) return undefined;
    if (value.kind === Kind.VARIABLE) {
      const raw = variables[value.name.value];
      if (Array.isArray(raw)) return raw.length;
      if (raw !== undefined && raw !== null) return 1;
      value = variableDefault(value.name.value);
      if (value === undefined) return 0;
    }
    return value.kind === Kind.LIST ? value.values.length : 1;
  }

  function pageSize(node: FieldNode): number {
    const size = intArgument(node, 'first') ?? intArgument(node, 'last') ?? weights.defaultPageSize;
    return Math.min(Math.max(size, 0), weights.maxPageSize);
  }

  function selectionSetCost(selectionSet: SelectionSetNode, parentType: GraphQLCompositeType, connectionPage: number | undefined): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        total += fieldCost(selection, parentType, connectionPage);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? typeFromAST(schema, selection.typeCondition) : parentType;
        const type = condition && isCompositeType(condition) ? condition : parentType;
        total += selectionSetCost(selection.selectionSet, type, connectionPage);
      } else {
        const name = selection.name.value;
        const memoKey = `${name}:${connectionPage ?? ''}`;
        let cost = fragmentCost.get(memoKey);
        if (cost === undefined) {
          const fragment = fragments.get(name);
          const condition = fragment ? typeFromAST(schema, fragment.typeCondition) : undefined;
          cost = fragment && condition && isCompositeType(condition) ? selectionSetCost(fragment.selectionSet, condition, connectionPage) : 0;
          fragmentCost.set(memoKey, cost);
        }
        total += cost;
      }
      if (total >= COST_CEILING) return COST_CEILING;
    }
    return total;
  }

  function fieldCost(node: FieldNode, parentType: GraphQLCompositeType, connectionPage: number | undefined): number {
    if (!node.selectionSet) return 0; // scalar, enum or __typename
    const name = node.name.value;
    // Introspection is bounded by the schema itself and off in production: one point per field.
    if (name.startsWith('__')) return 1;
    const field = isObjectType(parentType) || isInterfaceType(parentType) ? parentType.getFields()[name] : undefined;
    if (!field) return 0; // validation has already refused unknown fields
    const type = getNamedType(field.type);
    if (!isCompositeType(type)) return 0;
    const nullable = getNullableType(field.type);
    let items = 1;
    if (isListType(nullable)) {
      if (connectionPage !== undefined && (name === 'nodes' || name === 'edges')) items = connectionPage;
      else items = listLength(node, 'ids') ?? weights.defaultListSize;
    }
    const childPage = isConnectionField(field) ? pageSize(node) : undefined;
    // `edges { node }`: the edge's node is one item per edge, already multiplied.
    return Math.min(items * (1 + selectionSetCost(node.selectionSet, type, childPage)), COST_CEILING);
  }

  const rootType = schema.getRootType(operation.operation);
  if (!rootType) return 0;
  let cost = selectionSetCost(operation.selectionSet, rootType, undefined);
  if (operation.operation === OperationTypeNode.MUTATION) cost += rootFieldCount(operation.selectionSet, fragments) * weights.mutationCost;
  return Math.min(cost, COST_CEILING);
}

function rootFieldCount(selectionSet: SelectionSetNode, fragments: Fragments): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) count += selection.name.value === '__typename' ? 0 : 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) count += rootFieldCount(selection.selectionSet, fragments);
    else {
      const fragment = fragments.get(selection.name.value);
      if (fragment) count += rootFieldCount(fragment.selectionSet, fragments);
    }
  }
  return count;
}

export interface ActualCostInput {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The response's `data` (`null` or absent when nothing ran). */
  data: unknown;
  weights?: CostWeights;
}

/**
 * The cost of what the response returned: the weights of `requestedCost`
 * applied to the objects and list items actually present in `data`.
 */
export function actualCost({ document, operation, data, weights = DEFAULT_COST_WEIGHTS }: ActualCostInput): number {
  if (data === null || typeof data !== 'object') return 0;
  const fragments = fragmentsOf(document);

  /** Sub-selections per response key, fragments expanded (type conditions are settled by what the data holds). */
  function collect(selectionSets: readonly SelectionSetNode[], into = new Map<string, SelectionSetNode[]>(), seen = new Set<string>()) {
    for (const selectionSet of selectionSets) {
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          if (!selection.selectionSet) continue;
          const key = selection.alias?.value ?? selection.name.value;
          const list = into.get(key) ?? [];
          list.push(selection.selectionSet);
          into.set(key, list);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect([selection.selectionSet], into, seen);
        } else if (!seen.has(selection.name.value)) {
          const fragment = fragments.get(selection.name.value);
          if (fragment) collect([fragment.selectionSet], into, new Set(seen).add(selection.name.value));
        }
      }
    }
    return into;
  }

  /**
   * `collect`'s answer as a list, kept per selection-set list: every item of a
   * list (and every object below them) is walked with the very same
   * selection-set list, so each is collected once per response, not once per
   * object.
   */
  const collected = new Map<readonly SelectionSetNode[], { key: string; childSets: SelectionSetNode[] }[]>();
  function fieldsOf(selectionSets: readonly SelectionSetNode[]) {
    let fields = collected.get(selectionSets);
    if (!fields) {
      fields = [...collect(selectionSets)].map(([key, childSets]) => ({ key, childSets }));
      collected.set(selectionSets, fields);
    }
    return fields;
  }

  function valueCost(value: unknown, selectionSets: readonly SelectionSetNode[]): number {
    if (Array.isArray(value)) {
      let sum = 0;
      for (const item of value) sum += valueCost(item, selectionSets);
      return sum;
    }
    if (value === null || typeof value !== 'object') return 0;
    return 1 + objectCost(value as Record<string, unknown>, selectionSets);
  }

  function objectCost(object: Record<string, unknown>, selectionSets: readonly SelectionSetNode[]): number {
    let total = 0;
    for (const { key, childSets } of fieldsOf(selectionSets)) {
      if (key.startsWith('__')) total += object[key] == null ? 0 : 1;
      else total += valueCost(object[key], childSets);
    }
    return total;
  }

  let cost = objectCost(data as Record<string, unknown>, [operation.selectionSet]);
  if (operation.operation === OperationTypeNode.MUTATION) cost += rootFieldCount(operation.selectionSet, fragments) * weights.mutationCost;
  return cost;
}
