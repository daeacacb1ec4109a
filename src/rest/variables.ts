/**
 * A REST request's variables: path parameters, the query string (GET and
 * DELETE) or the members of a JSON object body (POST and PATCH), each
 * mapped to the variable of its name (src/rest/documents.ts). Strings from
 * the path and query are turned into the variable's type here; body
 * members are passed as they are and GraphQL coerces them (its
 * BAD_USER_INPUT names the variable, which is the member's name). Anything
 * the route does not declare is refused: nothing unknown reaches GraphQL.
 */
import { getNullableType, isEnumType, isListType, isScalarType, type GraphQLInputType } from 'graphql';

import { checkRequestJson } from '../limits/query-limits.js';
import type { RestRoute } from './documents.js';

/** One problem with the request, located as RFC 9457 suggests: a parameter name, or a JSON pointer into the body. */
export interface InputProblem {
  message: string;
  parameter?: string;
  pointer?: string;
}

export type VariablesResult = { ok: true; variables: Record<string, unknown> } | { ok: false; problems: InputProblem[]; code: 'BAD_REQUEST' | 'QUERY_TOO_COMPLEX' };

const INT = /^-?\d{1,10}$/;
const INT_MAX = 2 ** 31 - 1;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A string from the path or query string as a value of `type` (a scalar or enum), or a problem message. */
function fromText(type: GraphQLInputType, text: string): { value: unknown } | { problem: string } {
  const named = getNullableType(type);
  if (isEnumType(named)) {
    return named.getValue(text) ? { value: text } : { problem: `must be one of ${named.getValues().map((v) => v.name).join(', ')}` };
  }
  if (!isScalarType(named)) return { problem: 'cannot be given in the URL' };
  switch (named.name) {
    case 'Int': {
      const value = Number(text);
      return INT.test(text) && Math.abs(value) <= INT_MAX ? { value } : { problem: 'must be a whole number' };
    }
    case 'Float': {
      const value = Number(text);
      return text.trim() !== '' && Number.isFinite(value) ? { value } : { problem: 'must be a number' };
    }
    case 'Boolean':
      return text === 'true' ? { value: true } : text === 'false' ? { value: false } : { problem: 'must be `true` or `false`' };
    default:
      return { value: text };
  }
}

function fromQuery(type: GraphQLInputType, raw: string | string[], name: string): { value: unknown } | { problem: InputProblem } {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const values: unknown[] = [];
    for (const text of Array.isArray(raw) ? raw : [raw]) {
      const item = fromText(nullable.ofType, text);
      if ('problem' in item) return { problem: { parameter: name, message: `\`${name}\` ${item.problem}.` } };
      values.push(item.value);
    }
    return { value: values };
  }
  if (Array.isArray(raw)) return { problem: { parameter: name, message: `Send \`${name}\` once.` } };
  const item = fromText(type, raw);
  return 'problem' in item ? { problem: { parameter: name, message: `\`${name}\` ${item.problem}.` } } : { value: item.value };
}

export interface RestRequestParts {
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  /** The parsed body; undefined when none was sent. */
  body: unknown;
}

/** The variables of `route` from the request's parts, or every problem with them at once. */
export function restVariables(route: RestRoute, { params, query, body }: RestRequestParts): VariablesResult {
  const problems: InputProblem[] = [];
  const variables: Record<string, unknown> = {};
  const declared = new Map(route.variables.map((v) => [v.name, v]));

  for (const variable of route.variables) {
    if (variable.source !== 'path') continue;
    const raw = params[variable.name];
    if (raw === undefined || raw === '') {
      problems.push({ parameter: variable.name, message: `The path needs \`${variable.name}\`.` });
      continue;
    }
    const parsed = fromQuery(variable.type, raw, variable.name);
    if ('problem' in parsed) problems.push(parsed.problem);
    else variables[variable.name] = parsed.value;
  }

  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const variable = declared.get(name);
    if (!variable || variable.source !== 'query') {
      problems.push({ parameter: name, message: `Unknown query parameter \`${name}\`.` });
      continue;
    }
    const parsed = fromQuery(variable.type, raw, name);
    if ('problem' in parsed) problems.push(parsed.problem);
    else variables[name] = parsed.value;
  }

  const bodyVariables = route.variables.filter((v) => v.source === 'body');
  if (bodyVariables.length > 0 || body !== undefined) {
    const members = body === undefined ? {} : body;
    if (!isPlainObject(members)) {
      problems.push({ pointer: '', message: 'The body must be a JSON object.' });
    } else if (bodyVariables.length === 0 && Object.keys(members).length > 0) {
      problems.push({ pointer: '', message: 'This route takes no body.' });
    } else {
      const tooDeep = checkRequestJson('variables', members);
      if (tooDeep) return { ok: false, code: 'QUERY_TOO_COMPLEX', problems: [{ pointer: '', message: tooDeep.message }] };
      for (const [name, value] of Object.entries(members)) {
        const variable = declared.get(name);
        if (!variable || variable.source !== 'body') problems.push({ pointer: `/${escapePointer(name)}`, message: `Unknown member \`${name}\`.` });
        else variables[name] = value;
      }
    }
  }

  for (const variable of route.variables) {
    if (variable.required && variable.source !== 'path' && variables[variable.name] === undefined && !problems.some((p) => p.parameter === variable.name)) {
      problems.push(variable.source === 'body' ? { pointer: `/${escapePointer(variable.name)}`, message: `\`${variable.name}\` is required.` } : { parameter: variable.name, message: `\`${variable.name}\` is required.` });
    }
  }
  return problems.length > 0 ? { ok: false, code: 'BAD_REQUEST', problems } : { ok: true, variables };
}

/** RFC 6901: `~` and `/` in a reference token. */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
