/**
 * The committed snapshot of a REST version's OpenAPI document
 * (docs/openapi/v1.json), which freezes the version as docs/schema.graphql
 * freezes the GraphQL schema: test/unit/rest-openapi.test.ts fails while the
 * generated document and the snapshot differ, and `npm run openapi:snapshot`
 * records a change only when it breaks no client, or when CHANGELOG.md names
 * each breaking change's id in backticks and `--allow-breaking` is given (a
 * breaking change belongs in a new version, /v2, unless it is deliberate).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { buildSchema } from '../graphql/schema.js';
import { projectRoot } from '../util/project-root.js';
import { loadRestRoutes, REST_VERSION } from './documents.js';
import { buildOpenApi, type JsonSchema, type OpenApiDocument } from './openapi.js';

export const OPENAPI_SNAPSHOT_PATH = path.join(projectRoot(), 'docs', 'openapi', `${REST_VERSION}.json`);

/** The document as generated now, in the snapshot's text form. */
export function printCurrentOpenApi(): string {
  const schema = buildSchema();
  return `${JSON.stringify(buildOpenApi(schema, loadRestRoutes(schema, REST_VERSION), REST_VERSION), null, 2)}\n`;
}

export function readOpenApiSnapshot(): string | undefined {
  try {
    return readFileSync(OPENAPI_SNAPSHOT_PATH, 'utf8');
  } catch {
    return undefined;
  }
}

/** A change that breaks a client written against the snapshot, named `KIND where`. */
export interface BreakingChange {
  id: string;
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Resolves a local `$ref` once. */
function resolve(document: OpenApiDocument, schema: unknown): JsonSchema {
  if (!isRecord(schema)) return {};
  const target = schema['$ref'];
  if (typeof target !== 'string') return schema;
  const name = target.split('/').pop() ?? '';
  const components = (document['components'] as { schemas?: Record<string, JsonSchema> } | undefined)?.schemas ?? {};
  return components[name] ?? {};
}

function types(schema: JsonSchema): string[] {
  const { type, oneOf } = schema;
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.map(String);
  if (Array.isArray(oneOf)) return oneOf.flatMap((item) => (isRecord(item) && typeof item['type'] === 'string' ? [item['type']] : isRecord(item) && '$ref' in item ? ['object'] : []));
  if ('$ref' in schema) return ['object'];
  return [];
}

/**
 * What an answer schema promised that `after` no longer does: a property
 * gone, a type changed, null newly possible, an enum value newly possible
 * (a client's exhaustive switch breaks).
 */
function answerChanges(before: OpenApiDocument, after: OpenApiDocument, old: unknown, now: unknown, where: string, out: BreakingChange[], depth = 0): void {
  if (depth > 12) return;
  const a = resolve(before, old);
  const b = resolve(after, now);
  const typesA = types(a);
  const typesB = types(b);
  if (typesB.some((t) => !typesA.includes(t))) out.push({ id: `ANSWER_TYPE_CHANGED ${where}`, message: `${where} may now be ${typesB.join(' or ')} (was ${typesA.join(' or ')}).` });
  const enumA = Array.isArray(a['enum']) ? a['enum'] : undefined;
  const enumB = Array.isArray(b['enum']) ? b['enum'] : undefined;
  if (enumA && enumB) for (const value of enumB) if (!enumA.includes(value)) out.push({ id: `ANSWER_ENUM_VALUE_ADDED ${where}.${String(value)}`, message: `${where} may now be ${String(value)}.` });
  const unwrap = (schema: JsonSchema): JsonSchema => (Array.isArray(schema['oneOf']) ? resolve(after, schema['oneOf'][0]) : schema);
  const propsA = unwrap(a)['properties'];
  const propsB = unwrap(b)['properties'];
  if (isRecord(propsA)) {
    for (const [key, schema] of Object.entries(propsA)) {
      if (!isRecord(propsB) || !(key in propsB)) out.push({ id: `ANSWER_PROPERTY_REMOVED ${where}.${key}`, message: `${where}.${key} is no longer answered.` });
      else answerChanges(before, after, schema, propsB[key], `${where}.${key}`, out, depth + 1);
    }
  }
  const itemsA = unwrap(a)['items'];
  const itemsB = unwrap(b)['items'];
  if (itemsA !== undefined && itemsB !== undefined) answerChanges(before, after, itemsA, itemsB, `${where}[]`, out, depth + 1);
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
}

/** Every change from `before` to `after` that breaks a client of `before`. */
export function breakingChanges(before: OpenApiDocument, after: OpenApiDocument): BreakingChange[] {
  const out: BreakingChange[] = [];
  for (const [pathName, operations] of Object.entries(before.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const where = `${method.toUpperCase()} ${pathName}`;
      const next = after.paths[pathName]?.[method];
      if (!next) {
        out.push({ id: `OPERATION_REMOVED ${where}`, message: `${where} is gone.` });
        continue;
      }
      const paramsA = (operation['parameters'] ?? []) as Parameter[];
      const paramsB = (next['parameters'] ?? []) as Parameter[];
      for (const param of paramsA) {
        if (!paramsB.some((p) => p.name === param.name && p.in === param.in)) out.push({ id: `PARAMETER_REMOVED ${where} ${param.name}`, message: `${where} no longer takes ${param.in} parameter ${param.name}.` });
      }
      for (const param of paramsB) {
        const earlier = paramsA.find((p) => p.name === param.name && p.in === param.in);
        if (param.required && !earlier?.required) out.push({ id: `PARAMETER_REQUIRED ${where} ${param.name}`, message: `${where} now requires ${param.in} parameter ${param.name}.` });
      }
      const body = (op: Record<string, unknown>): JsonSchema => {
        const content = (op['requestBody'] as { content?: Record<string, { schema?: JsonSchema }> } | undefined)?.content;
        return content?.['application/json']?.schema ?? {};
      };
      const bodyA = body(operation);
      const bodyB = body(next);
      const membersA = isRecord(bodyA['properties']) ? Object.keys(bodyA['properties']) : [];
      const membersB = isRecord(bodyB['properties']) ? Object.keys(bodyB['properties']) : [];
      for (const member of membersA) if (!membersB.includes(member)) out.push({ id: `BODY_MEMBER_REMOVED ${where} ${member}`, message: `${where} no longer takes body member ${member}.` });
      const requiredA = Array.isArray(bodyA['required']) ? bodyA['required'] : [];
      const requiredB = Array.isArray(bodyB['required']) ? bodyB['required'] : [];
      for (const member of requiredB) if (!requiredA.includes(member)) out.push({ id: `BODY_MEMBER_REQUIRED ${where} ${String(member)}`, message: `${where} now requires body member ${String(member)}.` });
      const success = (op: Record<string, unknown>): [string, unknown] | undefined => {
        const responses = op['responses'] as Record<string, { content?: Record<string, { schema?: unknown }> }>;
        const status = ['200', '201'].find((s) => responses[s] !== undefined);
        return status === undefined ? undefined : [status, responses[status]?.content?.['application/json']?.schema];
      };
      const okA = success(operation);
      const okB = success(next);
      if (okA && okB && okA[0] !== okB[0]) out.push({ id: `SUCCESS_STATUS_CHANGED ${where}`, message: `${where} answers ${okB[0]} instead of ${okA[0]}.` });
      if (okA && okB) answerChanges(before, after, okA[1], okB[1], where, out);
    }
  }
  return out;
}

/** The breaking changes whose id CHANGELOG.md does not name (in backticks). */
export function unloggedBreakingChanges(changes: readonly BreakingChange[], changelog: string): string[] {
  return changes.filter((change) => !changelog.includes(`\`${change.id}\``)).map((change) => change.id);
}
