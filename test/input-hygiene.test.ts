/**
 * One policy for strings at the edge: a control character other than tab and
 * line breaks in any argument (directly, in a list, in a nested input object; as
 * a literal or through a variable) is BAD_USER_INPUT naming the argument,
 * before anything runs. The schema is walked, so a new argument is covered
 * without touching this file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';

import { buildSchema } from '../src/graphql/schema.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A valid value for a scalar, used wherever the value under test is not. */
const PLACEHOLDERS: Record<string, unknown> = {
  Int: 1,
  Float: 1,
  Boolean: false,
  String: 'text',
  ID: 'UHJvZHVjdDox',
  DateTime: '2024-01-01T00:00:00Z',
  Currency: 'EUR',
  JSONObject: {},
};

/** A minimal valid value of `type`: required input fields filled, optional ones left out. */
function placeholder(type: GraphQLInputType): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [placeholder(nullable.ofType)];
  if (isEnumType(nullable)) return nullable.getValues()[0]?.value;
  if (isInputObjectType(nullable)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(nullable.getFields())) {
      if (isNonNullType(field.type) && field.defaultValue === undefined) value[field.name] = placeholder(field.type);
    }
    return value;
  }
  if (isScalarType(nullable)) {
    if (!(nullable.name in PLACEHOLDERS)) throw new Error(`add a placeholder for scalar ${nullable.name}`);
    return PLACEHOLDERS[nullable.name];
  }
  throw new Error(`unexpected input type ${String(type)}`);
}

interface Target {
  /** Dotted path from the argument, as the error names it. */
  argument: string;
  /** The argument's value with `bad` at the target position. */
  value: (bad: string) => unknown;
}

/** Every position in a value of `type` where a string goes (scalars whose values are strings). */
function stringPositions(type: GraphQLInputType, path: string[], depth = 0): Array<{ path: string[]; set: (bad: string) => unknown }> {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    return stringPositions(nullable.ofType, [...path, '0'], depth).map((p) => ({ path: p.path, set: (bad: string) => [p.set(bad)] }));
  }
  if (isInputObjectType(nullable)) {
    if (depth > 3) return [];
    const base = placeholder(nullable) as Record<string, unknown>;
    return Object.values(nullable.getFields()).flatMap((field) =>
      stringPositions(field.type, [...path, field.name], depth + 1).map((p) => ({
        path: p.path,
        set: (bad: string) => ({ ...base, [field.name]: p.set(bad) }),
      })),
    );
  }
  if (isScalarType(nullable) && typeof PLACEHOLDERS[nullable.name] === 'string') {
    return [{ path, set: (bad: string) => `${String(PLACEHOLDERS[nullable.name])}${bad}` }];
  }
  return [];
}

interface Case {
  operation: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  argument: GraphQLArgument;
  target: Target;
}

function cases(schema: GraphQLSchema): Case[] {
  const found: Case[] = [];
  for (const [operation, root] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()]] as const) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      for (const argument of field.args) {
        for (const position of stringPositions(argument.type, [argument.name])) {
          found.push({ operation, field, argument, target: { argument: position.path.join('.'), value: position.set } });
        }
      }
    }
  }
  return found;
}

/** `field(a: $a, b: $b) { __typename }` with every argument as a variable. */
function documentFor(c: Case): string {
  const definitions = c.field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = c.field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const composite = !isScalarType(getNamedType(c.field.type)) && !isEnumType(getNamedType(c.field.type));
  return `${c.operation} Probe(${definitions}) { ${c.field.name}(${args})${composite ? ' { __typename }' : ''} }`;
}

/** A value as a GraphQL literal (strings JSON-escaped, which GraphQL reads the same way). */
function literal(value: unknown, type: GraphQLInputType): string {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return `[${(value as unknown[]).map((item) => literal(item, nullable.ofType)).join(', ')}]`;
  if (isEnumType(nullable)) return String(value);
  if (isInputObjectType(nullable)) {
    const fields = nullable.getFields();
    const entries = Object.entries(value as Record<string, unknown>).map(([name, item]) => {
      const field = fields[name];
      if (!field) throw new Error(`no field ${name}`);
      return `${name}: ${literal(item, field.type)}`;
    });
    return `{ ${entries.join(', ')} }`;
  }
  return typeof value === 'object' ? '{}' : JSON.stringify(value);
}

/** The same operation with every argument written as a literal in the document. */
function literalDocumentFor(c: Case, bad: string): string {
  const values = variablesFor(c, bad);
  const args = c.field.args
    .filter((a) => a.name in values)
    .map((a) => `${a.name}: ${literal(values[a.name], a.type)}`)
    .join(', ');
  const composite = !isScalarType(getNamedType(c.field.type)) && !isEnumType(getNamedType(c.field.type));
  return `${c.operation} { ${c.field.name}(${args})${composite ? ' { __typename }' : ''} }`;
}

function variablesFor(c: Case, bad: string): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const a of c.field.args) {
    if (a.name === c.argument.name) variables[a.name] = c.target.value(bad);
    else if (isNonNullType(a.type) && a.defaultValue === undefined) variables[a.name] = placeholder(a.type);
  }
  return variables;
}

let server: TestServer;
const schemaCases = cases(buildSchema());
/** The media type whose statuses follow the error code (an application/json client gets 200 for input errors). */
const GRAPHQL_RESPONSE = { headers: { accept: 'application/graphql-response+json' } };

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

describe('control characters in arguments', () => {
  it('finds string arguments to probe (the walk itself works)', () => {
    const names = schemaCases.map((c) => `${c.field.name}:${c.target.argument}`);
    for (const expected of ['products:filter.search', 'categoryBySlug:slug', 'logIn:input.email', 'logIn:input.password', 'signUp:input.email', 'nodes:ids.0']) {
      expect(names).toContain(expected);
    }
  });

  it.each(schemaCases.map((c) => [`${c.field.name}(${c.target.argument})`, c] as const))(
    'refuses NUL in %s through a variable with BAD_USER_INPUT naming it',
    async (_name, c) => {
      const result = await server.graphql(documentFor(c), variablesFor(c, 'a\u0000b'), GRAPHQL_RESPONSE);
      expect(result.status).toBe(400);
      expect(result.body.data ?? null).toBeNull();
      expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: c.target.argument });
      expect(result.body.errors?.[0]?.message).toContain('U+0000');
    },
  );

  it.each(schemaCases.map((c) => [`${c.field.name}(${c.target.argument})`, c] as const))(
    'refuses NUL in %s written as a literal with BAD_USER_INPUT naming it',
    async (_name, c) => {
      const result = await server.graphql(literalDocumentFor(c, 'a\u0000b'), undefined, GRAPHQL_RESPONSE);
      expect(result.status).toBe(400);
      expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: c.target.argument });
    },
  );

  it('refuses NUL as a string literal in the document, naming the argument', async () => {
    const literal = await server.graphql('{ categoryBySlug(slug: "books\\u0000") { id } products(filter: { search: "ok" }) { totalCount } }', undefined, GRAPHQL_RESPONSE);
    expect(literal.status).toBe(400);
    expect(literal.body.errors).toHaveLength(1);
    expect(literal.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'slug' });
    const nested = await server.graphql('mutation { logIn(input: { email: "a@example.com", password: "x\\u001b[31m" }) { accessToken } }', undefined, GRAPHQL_RESPONSE);
    expect(nested.status).toBe(400);
    expect(nested.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.password' });
    expect(nested.body.errors?.[0]?.message).toContain('U+001B');
  });

  it('names the list element and refuses other control characters (vertical tab, DEL, C1, backspace), through variables', async () => {
    const query = 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }';
    for (const [bad, codePoint] of [['\u000b', 'U+000B'], ['\u007f', 'U+007F'], ['\u0085', 'U+0085'], ['\u0008', 'U+0008']] as const) {
      const result = await server.graphql(query, { ids: ['UHJvZHVjdDox', `x${bad}`] }, GRAPHQL_RESPONSE);
      expect(result.status).toBe(400);
      expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'ids.1' });
      expect(result.body.errors?.[0]?.message).toContain(codePoint);
    }
  });

  it('accepts tab and line breaks (LF, CRLF), and non-Latin text', async () => {
    const result = await server.graphql<{ products: { totalCount: number } }>(
      'query ($s: String) { products(filter: { search: $s }) { totalCount } }',
      { s: 'tab\there\nnew line\r\nWindows line — 日本語 ✓' },
    );
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.products.totalCount).toBe(0);
  });

  it('checks before anything runs: a mutation is refused before authorization or writes', async () => {
    const result = await server.graphql(
      'mutation ($input: LogInInput!) { logIn(input: $input) { accessToken } }',
      { input: { email: 'someone\u0000@example.com', password: 'whatever-password' } },
      GRAPHQL_RESPONSE,
    );
    expect(result.status).toBe(400);
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.email' });
    const { rows } = await server.db.selectFrom('audit_events').select('action').execute().then((r) => ({ rows: r }));
    expect(rows.filter((r) => r.action === 'LOGIN_FAILED')).toHaveLength(0);
  });
});
