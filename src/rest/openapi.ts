/**
 * The OpenAPI 3.1 document of a REST version, generated from its routes
 * (src/rest/documents.ts) and the schema: parameters and request bodies
 * from the documents' variables, answers from their selection sets, types,
 * nullability, enums and descriptions from the SDL. Served at
 * `/v1/openapi.json`; its committed snapshot (docs/openapi/v1.json) freezes
 * the version (src/rest/openapi-snapshot.ts).
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  Kind,
  valueFromASTUntyped,
  type FieldNode,
  type GraphQLEnumType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

import { KEY_REQUIRED_MUTATIONS } from '../idempotency/idempotency.http.js';
import type { RestRoute, RestVariable } from './documents.js';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it), loosely typed: the document is data. */
export type JsonSchema = Record<string, unknown>;
export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, Record<string, OpenApiOperation>> };
export type OpenApiOperation = Record<string, unknown> & { operationId: string };

const SCALARS: Record<string, JsonSchema> = {
  ID: { type: 'string', description: 'An opaque global id.' },
  String: { type: 'string' },
  Int: { type: 'integer', format: 'int32' },
  Float: { type: 'number', format: 'double' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'string', format: 'date-time' },
  Currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  JSONObject: { type: 'object' },
};

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** `schema` or null. */
function orNull(schema: JsonSchema): JsonSchema {
  const { type } = schema;
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] };
  const { description, ...rest } = schema;
  return { ...(description === undefined ? {} : { description }), oneOf: [rest, { type: 'null' }] };
}

function described(schema: JsonSchema, description: string | null | undefined): JsonSchema {
  return description ? { ...schema, description } : schema;
}

class Builder {
  readonly components: Record<string, JsonSchema> = {};

  constructor(private readonly schema: GraphQLSchema) {}

  private named(type: GraphQLNamedType): JsonSchema {
    if (isScalarType(type)) return SCALARS[type.name] ?? { type: 'string' };
    if (isEnumType(type)) return this.enumRef(type);
    if (isInputObjectType(type)) return this.inputRef(type);
    throw new Error(`no JSON Schema for ${type.name}`);
  }

  private enumRef(type: GraphQLEnumType): JsonSchema {
    if (!this.components[type.name]) {
      const values = type.getValues().filter((value) => !value.deprecationReason);
      this.components[type.name] = described(
        {
          type: 'string',
          enum: values.map((value) => value.name),
          'x-enum-descriptions': Object.fromEntries(values.map((value) => [value.name, value.description ?? ''])),
        },
        type.description,
      );
    }
    return ref(type.name);
  }

  private inputRef(type: GraphQLInputObjectType): JsonSchema {
    if (!this.components[type.name]) {
      this.components[type.name] = {};
      const fields = Object.values(type.getFields());
      this.components[type.name] = described(
        {
          type: 'object',
          properties: Object.fromEntries(fields.map((field) => [field.name, described(this.input(field.type), field.description)])),
          required: fields.filter((field) => isNonNullType(field.type) && field.defaultValue === undefined).map((field) => field.name),
          additionalProperties: false,
        },
        type.description,
      );
    }
    return ref(type.name);
  }

  input(type: GraphQLInputType): JsonSchema {
    if (isNonNullType(type)) return this.inputNonNull(type.ofType);
    return orNull(this.inputNonNull(type));
  }

  /** A path or query parameter: absent is how it is null, so its schema is the non-null one. */
  parameter(type: GraphQLInputType): JsonSchema {
    const nullable = isNonNullType(type) ? type.ofType : type;
    if (isListType(nullable)) return { type: 'array', items: this.parameter(nullable.ofType) };
    return this.named(getNamedType(nullable));
  }

  private inputNonNull(type: GraphQLInputType): JsonSchema {
    if (isListType(type)) return { type: 'array', items: this.input(type.ofType) };
    return this.named(getNamedType(type));
  }

  /** The answer's schema: the selected fields of `type`, in selection order. */
  output(type: GraphQLOutputType, selectionSet: SelectionSetNode | undefined, omit: ReadonlySet<string> = new Set()): JsonSchema {
    if (isNonNullType(type)) return this.outputNonNull(type.ofType, selectionSet, omit);
    return orNull(this.outputNonNull(type, selectionSet, omit));
  }

  private outputNonNull(type: GraphQLOutputType, selectionSet: SelectionSetNode | undefined, omit: ReadonlySet<string>): JsonSchema {
    if (isListType(type)) return { type: 'array', items: this.output(type.ofType, selectionSet) };
    const named = getNamedType(type);
    if (isScalarType(named) || isEnumType(named)) return this.named(named);
    if (!('getFields' in named)) throw new Error(`${named.name}: selections on unions are not supported in REST documents`);
    const fields = named.getFields();
    const properties: Record<string, JsonSchema> = {};
    for (const node of this.fieldsOf(selectionSet)) {
      const key = node.alias?.value ?? node.name.value;
      if (omit.has(key)) continue;
      if (node.name.value === '__typename') {
        properties[key] = { type: 'string', const: named.name };
        continue;
      }
      const field = fields[node.name.value];
      if (!field) throw new Error(`${named.name}.${node.name.value} is not a field`);
      properties[key] = described(this.output(field.type, node.selectionSet), field.deprecationReason ? `${field.description ?? ''} Deprecated: ${field.deprecationReason}`.trim() : field.description);
    }
    return described({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false }, named.description);
  }

  /** Selected fields, through inline fragments (REST documents use no named fragments in answers). */
  private fieldsOf(selectionSet: SelectionSetNode | undefined): FieldNode[] {
    const fields: FieldNode[] = [];
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) fields.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fields.push(...this.fieldsOf(selection.selectionSet));
      else throw new Error('named fragments are not supported in REST documents');
    }
    return fields;
  }

  /** The description of the argument or input field a variable fills. */
  describe(route: RestRoute, variable: RestVariable): string | undefined {
    const [argumentName, ...fieldPath] = variable.argumentPath;
    const argument = variable.field.args.find((arg) => arg.name === argumentName);
    let description = argument?.description ?? undefined;
    let type: GraphQLInputType | undefined = argument?.type;
    for (const key of fieldPath) {
      const named = type === undefined ? undefined : getNamedType(type);
      if (!isInputObjectType(named)) return description;
      const field = named.getFields()[key];
      description = field?.description ?? description;
      type = field?.type;
    }
    return description ?? undefined;
  }

  get root(): GraphQLSchema {
    return this.schema;
  }
}

const PROBLEM_RESPONSES: Record<string, string> = {
  '400': 'The request is malformed: an unknown or invalid parameter or body member, or a missing `Idempotency-Key` where required.',
  '401': 'Credentials are needed, or the ones sent are invalid or expired.',
  '403': 'The caller may not run this operation (role or API-key scope).',
  '429': 'The query-cost budget is spent: retry after `Retry-After` seconds.',
  '503': 'The service is unavailable for a moment: retry after `Retry-After` seconds.',
};

const RATE_LIMIT_HEADERS = {
  RateLimit: { description: 'What is left of the query-cost budget (IETF RateLimit header fields).', schema: { type: 'string' } },
  'RateLimit-Policy': { description: 'The query-cost budget and its window.', schema: { type: 'string' } },
};

function problemResponse(description: string): JsonSchema {
  return { description, content: { 'application/problem+json': { schema: ref('Problem') } } };
}

function operationOf(builder: Builder, route: RestRoute): OpenApiOperation {
  const parameters: JsonSchema[] = route.variables
    .filter((variable) => variable.source !== 'body')
    .map((variable) => {
      const schema = builder.parameter(variable.type);
      const withDefault = variable.defaultValue ? { ...schema, default: valueFromASTUntyped(variable.defaultValue) } : schema;
      const isList = isListType(isNonNullType(variable.type) ? variable.type.ofType : variable.type);
      return {
        name: variable.name,
        in: variable.source,
        required: variable.source === 'path' || variable.required,
        ...(builder.describe(route, variable) ? { description: builder.describe(route, variable) } : {}),
        schema: withDefault,
        ...(isList ? { style: 'form', explode: true } : {}),
      };
    });
  const keyRequired = KEY_REQUIRED_MUTATIONS.has(route.root.node.name.value);
  if (route.method !== 'GET') {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: keyRequired,
      description: keyRequired
        ? 'Required: a fresh random value per intended operation, sent again with a retry. A retry answers the stored response with `Idempotent-Replayed: true`.'
        : 'Optional: makes a retry safe. A retry answers the stored response with `Idempotent-Replayed: true`.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  if (route.method === 'GET') {
    parameters.push({ name: 'If-None-Match', in: 'header', required: false, description: 'The `ETag` of an answer you hold: 304 when it is still current.', schema: { type: 'string' } });
  }

  const bodyVariables = route.variables.filter((variable) => variable.source === 'body');
  const requestBody =
    bodyVariables.length === 0
      ? undefined
      : {
          required: bodyVariables.some((variable) => variable.required),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: Object.fromEntries(bodyVariables.map((variable) => [variable.name, described(builder.input(variable.type), builder.describe(route, variable))])),
                required: bodyVariables.filter((variable) => variable.required).map((variable) => variable.name),
                additionalProperties: false,
              },
            },
          },
        };

  const answer = builder.output(route.result.type, route.result.node.selectionSet, new Set(route.userErrors ? ['userErrors'] : []));
  // The answered value is never null on success (null answers the `absent` problem).
  const { type, oneOf, ...rest } = answer;
  const nonNull: JsonSchema | undefined = Array.isArray(oneOf) ? (oneOf[0] as JsonSchema | undefined) : Array.isArray(type) ? { ...rest, type: type[0] as unknown } : undefined;
  const success = nonNull ?? answer;
  const successHeaders: Record<string, unknown> = { ...RATE_LIMIT_HEADERS };
  if (route.method === 'GET') successHeaders['ETag'] = { description: 'A weak validator of this answer, for `If-None-Match`.', schema: { type: 'string' } };
  if (route.pagination.forward || route.pagination.backward) {
    successHeaders['Link'] = { description: 'The next page (`rel="next"`) or, paginating backward, the previous one (`rel="prev"`), with the same cursors as `pageInfo`.', schema: { type: 'string' } };
  }
  if (route.location) successHeaders['Location'] = { description: 'The path of what was created.', schema: { type: 'string' } };
  if (route.method !== 'GET') successHeaders['Idempotent-Replayed'] = { description: '`true` on an answer replayed for a repeated `Idempotency-Key`.', schema: { type: 'string', enum: ['true'] } };

  const responses: Record<string, unknown> = {
    [route.location ? '201' : '200']: { description: route.location ? 'Created.' : 'OK.', headers: successHeaders, content: { 'application/json': { schema: success } } },
  };
  if (route.method === 'GET') responses['304'] = { description: 'Not modified: the `ETag` sent in `If-None-Match` is current.' };
  for (const [status, description] of Object.entries(PROBLEM_RESPONSES)) responses[status] = problemResponse(description);
  if (route.absent === 'NOT_FOUND' || route.userErrors) responses['404'] = problemResponse('It does not exist, or the caller may not see it.');
  if (route.method !== 'GET') {
    responses['409'] = problemResponse('A version conflict or a change the current state does not allow (`errors` says which), or the same `Idempotency-Key` is still running.');
    responses['422'] = problemResponse('The input has problems, all listed in `errors` with their codes and locations; nothing was written. Also: the `Idempotency-Key` was used with another request.');
  }

  const sdl = route.result.field.description;
  return {
    operationId: route.operationName.charAt(0).toLowerCase() + route.operationName.slice(1),
    summary: route.summary,
    ...(sdl ? { description: `${sdl}\n\nRuns the GraphQL operation \`${route.operationName}\` (${route.file}).` } : {}),
    tags: [route.tag],
    security: route.method === 'GET' && route.absent === 'NOT_FOUND' ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of `routes`. */
export function buildOpenApi(schema: GraphQLSchema, routes: readonly RestRoute[], version = 'v1'): OpenApiDocument {
  const builder = new Builder(schema);
  const paths: Record<string, Record<string, OpenApiOperation>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, OpenApiOperation>)[route.method.toLowerCase()] = operationOf(builder, route);
  }
  const components: Record<string, JsonSchema> = {
    Problem: {
      type: 'object',
      description: 'An error answer (RFC 9457 problem details), with the error catalogue\'s `code` and the request id.',
      properties: {
        type: { type: 'string', description: 'Always `about:blank`: `code` says what happened.' },
        title: { type: 'string', description: 'The HTTP status phrase.' },
        status: { type: 'integer', description: 'The HTTP status.' },
        detail: { type: 'string', description: 'What went wrong, for a person.' },
        code: { type: 'string', description: 'A code of the error catalogue (`FORBIDDEN`, `RATE_LIMITED`, ...) or, for input problems, the first `UserErrorCode` that decided the status.' },
        requestId: { type: 'string', description: 'The request id (also in `X-Request-Id`), to quote in a support request.' },
        errors: { type: 'array', items: ref('ProblemItem'), description: 'Every problem with the input, when there are several kinds.' },
      },
      required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
    },
    ProblemItem: {
      type: 'object',
      description: 'One problem with the request: a GraphQL `UserError`, or a parameter or body member the route refused.',
      properties: {
        code: { type: 'string', description: 'A `UserErrorCode`, or `BAD_REQUEST` for a refused parameter.' },
        message: { type: 'string' },
        field: { type: ['array', 'null'], items: { type: 'string' }, description: 'The path into the GraphQL input, as the GraphQL API reports it.' },
        parameter: { type: 'string', description: 'The path or query parameter concerned.' },
        pointer: { type: 'string', description: 'A JSON pointer (RFC 6901) to the body member concerned.' },
        currentVersion: { type: 'integer', description: 'With `VERSION_CONFLICT`: the current version.' },
        availableQuantity: { type: 'integer', description: 'With `OUT_OF_STOCK`: the units available now.' },
      },
      required: ['code', 'message'],
    },
  };
  // Filled while the paths were built.
  for (const name of Object.keys(builder.components).sort()) components[name] = builder.components[name] as JsonSchema;
  return {
    openapi: '3.1.0',
    info: {
      title: 'marketplace-api REST',
      version: version.replace(/^v/, ''),
      description:
        'The REST surface of marketplace-api: each route runs a named GraphQL operation of the same schema, with the same authorization, cost budget, idempotency keys and caching as `/graphql`. Errors are RFC 9457 problem details carrying `code` and `requestId`.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An access token from `logIn`, or an API key.' } },
    },
  };
}
