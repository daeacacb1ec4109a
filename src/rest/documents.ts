/**
 * The REST routes, read from GraphQL documents (`rest/v1/*.graphql`): one
 * named operation per file, whose header comment names its route.
 *
 *   # GET /v1/products/{id}
 *   # summary: Get a product
 *   # tag: Catalogue
 *   query GetProduct($id: ID!) { product(id: $id) { id title } }
 *
 * Header lines after the route (`# key: value`):
 *   - `summary` (required): one line for the reference;
 *   - `tag` (required): the group it is listed under;
 *   - `result`: the dotted path, in response keys, from `data` to the value
 *     the route answers with (default: the root field);
 *   - `absent`: the error code when that value is null: `NOT_FOUND`
 *     (default; an object that does not exist or that the caller may not
 *     see) or `UNAUTHENTICATED` (a route about the signed-in caller);
 *   - `location`: for a route that creates something, the path of the new
 *     resource, with `{dotted.path}` placeholders into the answer; such a
 *     route answers 201 with `Location`.
 *
 * Variables come from the path (`{id}` is `$id`), from the query string
 * (GET and DELETE: scalars, enums and lists of them) or from the members
 * of a JSON object body (POST and PATCH). A GET runs a query, every other
 * method a mutation. Everything here is checked when the routes are
 * loaded (at start-up, and by test/unit/rest-documents.test.ts): a
 * document that does not validate against the schema, or a header that
 * does not fit its operation, stops the start with the file and the reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  OperationTypeNode,
  parse,
  typeFromAST,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

import { documentHash } from '../limits/trusted-documents.js';
import { projectRoot } from '../util/project-root.js';

/** The version served; a breaking change to its routes needs a new one (docs/guides/rest.md, Versions). */
export const REST_VERSION = 'v1';

export const REST_METHODS = ['GET', 'POST', 'PATCH', 'DELETE'] as const;
export type RestMethod = (typeof REST_METHODS)[number];

/** Codes a route may answer with when its value is null. */
export const ABSENT_CODES = ['NOT_FOUND', 'UNAUTHENTICATED'] as const;
export type AbsentCode = (typeof ABSENT_CODES)[number];

/** Where a variable's value comes from in the HTTP request. */
export type VariableSource = 'path' | 'query' | 'body';

export interface RestVariable {
  name: string;
  type: GraphQLInputType;
  source: VariableSource;
  /** Non-null without a default: the request must send it. */
  required: boolean;
  /** Its default, as written in the document (shown in the reference). */
  defaultValue: ValueNode | undefined;
  /** The argument (and input fields) it fills: `['input', 'items']` for `input: { items: $items }`. */
  argumentPath: readonly string[];
  /** The field whose argument that is (the root field, or one on the way to the answered value). */
  field: GraphQLField<unknown, unknown>;
}

export interface RestRoute {
  /** The file, relative to the project root (`rest/v1/get-product.graphql`). */
  file: string;
  method: RestMethod;
  /** The path as OpenAPI writes it: `/v1/products/{id}`. */
  path: string;
  /** The path as Fastify matches it: `/v1/products/:id`. */
  routerPath: string;
  summary: string;
  tag: string;
  operationName: string;
  operationType: 'query' | 'mutation';
  /** The document sent to GraphQL (the file without its header): what trusted documents list. */
  text: string;
  /** SHA-256 of `text`, as trusted documents and persisted queries name it. */
  hash: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The one root field the operation selects. */
  root: { field: GraphQLField<unknown, unknown>; node: FieldNode; parent: GraphQLObjectType };
  /** Response keys from `data` to the answered value. */
  resultPath: readonly string[];
  /** The selection and type of the answered value. */
  result: { node: FieldNode; type: GraphQLOutputType; field: GraphQLField<unknown, unknown> };
  absent: AbsentCode;
  location: string | undefined;
  variables: readonly RestVariable[];
  /** Cursor parameters: `first`/`after` and `last`/`before` variables, when the route has them. */
  pagination: { forward: boolean; backward: boolean };
  /** A mutation payload's `userErrors` is selected: non-empty means the route answers a problem. */
  userErrors: boolean;
}

export class RestDocumentError extends Error {
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'RestDocumentError';
  }
}

/** The folder of a REST version's documents. */
export function restDocumentsDir(version = 'v1'): string {
  return path.join(projectRoot(), 'rest', version);
}

const ROUTE_LINE = /^#\s*(GET|POST|PATCH|DELETE)\s+(\/\S*)\s*$/;
const HEADER_LINE = /^#\s*([a-z]+):\s*(.+?)\s*$/;
const PATH_SEGMENT = /^(?:[a-z0-9][a-z0-9-]*|\{[a-zA-Z][a-zA-Z0-9]*\})$/;
const HEADER_KEYS = new Set(['summary', 'tag', 'result', 'absent', 'location']);

interface Header {
  method: RestMethod;
  path: string;
  fields: Map<string, string>;
  /** Characters of the file the header takes (the rest is the document). */
  length: number;
}

function readHeader(file: string, source: string): Header {
  const lines = source.split('\n');
  const first = ROUTE_LINE.exec(lines[0] ?? '');
  if (!first) throw new RestDocumentError(file, 'the first line must name the route: `# GET /v1/...`');
  const fields = new Map<string, string>();
  let length = (lines[0] ?? '').length + 1;
  for (const line of lines.slice(1)) {
    if (!line.startsWith('#')) break;
    const match = HEADER_LINE.exec(line);
    if (!match) throw new RestDocumentError(file, `header line not understood: ${line}`);
    const [, key = '', value = ''] = match;
    if (!HEADER_KEYS.has(key)) throw new RestDocumentError(file, `unknown header \`${key}\` (known: ${[...HEADER_KEYS].join(', ')})`);
    if (fields.has(key)) throw new RestDocumentError(file, `header \`${key}\` given twice`);
    fields.set(key, value);
    length += line.length + 1;
  }
  return { method: first[1] as RestMethod, path: first[2] ?? '', fields, length };
}

function checkPath(file: string, routePath: string, version: string): string[] {
  const segments = routePath.split('/').slice(1);
  if (segments[0] !== version || segments.length < 2) throw new RestDocumentError(file, `the path must start with /${version}/`);
  const params: string[] = [];
  for (const segment of segments.slice(1)) {
    if (!PATH_SEGMENT.test(segment)) throw new RestDocumentError(file, `path segment \`${segment}\` must be lower-case words or one {parameter}`);
    if (segment.startsWith('{')) params.push(segment.slice(1, -1));
  }
  return params;
}

/** Whether a query-string value can hold the type: a scalar or enum, or a list of them. */
function fitsQueryString(type: GraphQLInputType): boolean {
  const nullable = getNullableType(type);
  const item = isListType(nullable) ? getNullableType(nullable.ofType) : nullable;
  return isScalarType(item) || isEnumType(item);
}

/** Every variable used in an argument value, with the path of arguments and input fields leading to it. */
function variableUses(value: ValueNode, at: string[], uses: Map<string, string[]>): void {
  switch (value.kind) {
    case Kind.VARIABLE:
      uses.set(value.name.value, at);
      return;
    case Kind.OBJECT:
      for (const field of value.fields) variableUses(field.value, [...at, field.name.value], uses);
      return;
    case Kind.LIST:
      value.values.forEach((item, index) => variableUses(item, [...at, String(index)], uses));
      return;
    default:
      return;
  }
}

function rootSelection(file: string, operation: OperationDefinitionNode): FieldNode {
  const selections = operation.selectionSet.selections;
  const [only] = selections;
  if (selections.length !== 1 || only?.kind !== Kind.FIELD) throw new RestDocumentError(file, 'the operation must select exactly one root field (no fragments at the root)');
  if (only.directives?.length) throw new RestDocumentError(file, 'the root field may not carry directives');
  return only;
}

function fieldNamed(selectionSet: SelectionSetNode | undefined, responseKey: string): FieldNode | undefined {
  return selectionSet?.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && (s.alias?.value ?? s.name.value) === responseKey);
}

interface Step {
  node: FieldNode;
  field: GraphQLField<unknown, unknown>;
}

/** Follows `keys` from the root field through the selection: every field on the way, the answered one last. */
function followPath(file: string, root: Step, keys: readonly string[]): Step[] {
  let { node, field } = root;
  const steps: Step[] = [root];
  for (const key of keys.slice(1)) {
    const parent = getNamedType(field.type);
    const next = fieldNamed(node.selectionSet, key);
    if (!next || !isObjectType(parent)) throw new RestDocumentError(file, `\`result\`: ${keys.join('.')} is not selected by the document`);
    const nextField = parent.getFields()[next.name.value];
    if (!nextField) throw new RestDocumentError(file, `\`result\`: ${keys.join('.')} is not a field`);
    if (isListType(getNullableType(nextField.type))) throw new RestDocumentError(file, '`result` may not pass through a list');
    node = next;
    field = nextField;
    steps.push({ node, field });
  }
  return steps;
}

/** Whether a dotted path (numbers index lists) reaches a selected leaf of the answered value. */
function selectsLeaf(node: FieldNode, type: GraphQLOutputType, keys: readonly string[]): boolean {
  let selection: FieldNode = node;
  let current: GraphQLOutputType = type;
  for (const key of keys) {
    const nullable = getNullableType(current);
    if (isListType(nullable)) {
      if (!/^\d+$/.test(key)) return false;
      current = nullable.ofType;
      continue;
    }
    const named = getNamedType(current);
    if (!isObjectType(named)) return false;
    const next = fieldNamed(selection.selectionSet, key);
    const field = next && named.getFields()[next.name.value];
    if (!next || !field) return false;
    selection = next;
    current = field.type;
  }
  return isScalarType(getNamedType(current));
}

/** Reads, checks and describes one document. */
export function readRoute(schema: GraphQLSchema, file: string, source: string, version = 'v1'): RestRoute {
  const header = readHeader(file, source);
  const pathParams = checkPath(file, header.path, version);
  const summary = header.fields.get('summary');
  const tag = header.fields.get('tag');
  if (!summary || !tag) throw new RestDocumentError(file, 'the header needs `summary` and `tag`');
  const absent = header.fields.get('absent') ?? 'NOT_FOUND';
  if (!(ABSENT_CODES as readonly string[]).includes(absent)) throw new RestDocumentError(file, `\`absent\` must be one of ${ABSENT_CODES.join(', ')}`);

  const text = `${source.slice(header.length).trim()}\n`;
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch (error) {
    throw new RestDocumentError(file, `does not parse: ${(error as Error).message}`);
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) throw new RestDocumentError(file, `does not validate against the schema: ${invalid.map((e) => e.message).join('; ')}`);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation) throw new RestDocumentError(file, 'must hold exactly one operation');
  if (!operation.name) throw new RestDocumentError(file, 'the operation must be named');
  if (operation.operation === OperationTypeNode.SUBSCRIPTION) throw new RestDocumentError(file, 'subscriptions are not served over REST');
  const operationType = operation.operation === OperationTypeNode.QUERY ? 'query' : 'mutation';
  if ((header.method === 'GET') !== (operationType === 'query')) throw new RestDocumentError(file, 'GET runs a query; POST, PATCH and DELETE run a mutation');

  const parent = operationType === 'query' ? schema.getQueryType() : schema.getMutationType();
  const node = rootSelection(file, operation);
  const field = parent?.getFields()[node.name.value];
  if (!parent || !field) throw new RestDocumentError(file, `no root field ${node.name.value}`);

  const resultPath = (header.fields.get('result') ?? (node.alias?.value ?? node.name.value)).split('.');
  if (resultPath[0] !== (node.alias?.value ?? node.name.value)) throw new RestDocumentError(file, '`result` must start at the root field');
  const steps = followPath(file, { node, field }, resultPath);
  const answered = steps[steps.length - 1] ?? { node, field };
  const result = { node: answered.node, type: answered.field.type, field: answered.field };
  if (!isObjectType(getNamedType(result.type)) || isListType(getNullableType(result.type))) throw new RestDocumentError(file, 'the answered value must be an object');

  // Variables are used in the arguments of the fields on the way to the answered value.
  const uses = new Map<string, { path: string[]; field: GraphQLField<unknown, unknown> }>();
  for (const step of steps) {
    const found = new Map<string, string[]>();
    for (const argument of step.node.arguments ?? []) variableUses(argument.value, [argument.name.value], found);
    for (const [name, at] of found) uses.set(name, { path: at, field: step.field });
  }

  const bodySource: VariableSource = header.method === 'GET' || header.method === 'DELETE' ? 'query' : 'body';
  const variables: RestVariable[] = [];
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type) as GraphQLInputType | undefined;
    if (!type) throw new RestDocumentError(file, `unknown type of $${name}`);
    const use = uses.get(name);
    if (!use) throw new RestDocumentError(file, `$${name} is not used in the arguments of the fields leading to the answer`);
    const argumentPath = use.path;
    const source: VariableSource = pathParams.includes(name) ? 'path' : bodySource;
    if (source === 'path' && (!isNonNullType(type) || !isScalarType(type.ofType))) throw new RestDocumentError(file, `path parameter $${name} must be a non-null scalar`);
    if (source === 'query' && !fitsQueryString(type)) throw new RestDocumentError(file, `$${name} comes from the query string: it must be a scalar, an enum or a list of them`);
    if (source === 'body' && isInputObjectType(getNullableType(type)) && name === 'input') {
      // Body members are the variables: a single `$input` would make every body `{ "input": ... }`.
      throw new RestDocumentError(file, 'spread the input into variables (one per body member) instead of one `$input`');
    }
    variables.push({ name, type, source, required: isNonNullType(type) && definition.defaultValue === undefined, defaultValue: definition.defaultValue, argumentPath, field: use.field });
  }
  for (const param of pathParams) {
    if (!variables.some((v) => v.name === param)) throw new RestDocumentError(file, `path parameter {${param}} has no variable $${param}`);
  }

  const location = header.fields.get('location');
  if (location !== undefined) {
    if (header.method !== 'POST') throw new RestDocumentError(file, '`location` is for POST routes that create something');
    for (const [, placeholder = ''] of location.matchAll(/\{([^}]+)\}/g)) {
      if (!selectsLeaf(result.node, result.type, placeholder.split('.'))) throw new RestDocumentError(file, `\`location\`: {${placeholder}} is not a selected value of the answer`);
    }
  }

  const payload = getNamedType(result.type);
  const userErrors = operationType === 'mutation' && isObjectType(payload) && payload.getFields()['userErrors'] !== undefined;
  if (userErrors) {
    const selected = fieldNamed(result.node.selectionSet, 'userErrors');
    for (const needed of ['field', 'code', 'message']) {
      if (!fieldNamed(selected?.selectionSet, needed)) throw new RestDocumentError(file, `select \`userErrors { field code message }\` (missing ${needed})`);
    }
  }

  const has = (name: string) => variables.some((v) => v.name === name && v.source === 'query');
  return {
    file,
    method: header.method,
    path: header.path,
    routerPath: header.path.replace(/\{([^}]+)\}/g, ':$1'),
    summary,
    tag,
    operationName: operation.name.value,
    operationType,
    text,
    hash: documentHash(text),
    document,
    operation,
    root: { field, node, parent },
    resultPath,
    result,
    absent: absent as AbsentCode,
    location,
    variables,
    pagination: { forward: has('first') && has('after'), backward: has('last') && has('before') },
    userErrors,
  };
}

/**
 * Every route of a version, sorted by path then method; throws
 * RestDocumentError for the first document that does not fit, or for two
 * documents claiming the same route.
 */
export function loadRestRoutes(schema: GraphQLSchema, version = 'v1', dir = restDocumentsDir(version)): RestRoute[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.graphql'))
    .sort();
  const routes = files.map((name) => readRoute(schema, path.relative(projectRoot(), path.join(dir, name)), readFileSync(path.join(dir, name), 'utf8'), version));
  const seen = new Map<string, string>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const earlier = seen.get(key);
    if (earlier) throw new RestDocumentError(route.file, `${key} is also declared by ${earlier}`);
    seen.set(key, route.file);
  }
  const names = new Set<string>();
  for (const route of routes) {
    if (names.has(route.operationName)) throw new RestDocumentError(route.file, `operation name ${route.operationName} is used twice`);
    names.add(route.operationName);
  }
  return routes.sort((a, b) => (a.path === b.path ? REST_METHODS.indexOf(a.method) - REST_METHODS.indexOf(b.method) : a.path < b.path ? -1 : 1));
}
