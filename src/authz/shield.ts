import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, shield, type IRules } from 'graphql-shield';
import { getNamedType, isObjectType, type GraphQLSchema } from 'graphql';

import { AppError, appError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { recordAudit } from '../modules/audit/audit.service.js';

/** `Type -> field -> rule`: every object field of the schema must appear. */
export type PermissionMap = Record<string, Record<string, unknown>>;

/** Every `Type.field` of the schema's object types that has no rule in the map. */
export function fieldsWithoutRules(schema: GraphQLSchema, permissions: PermissionMap): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const rules = permissions[type.name] ?? {};
    for (const field of Object.keys(type.getFields())) {
      if (!(field in rules)) missing.push(`${type.name}.${field}`);
    }
  }
  return missing;
}

/** One PERMISSION_DENIED audit event per request, so a hostile query cannot flood the log. */
const audited = new WeakSet<object>();

function auditDenial(ctx: GraphQLContext, error: AppError, where: string): void {
  if (audited.has(ctx) || error.code !== 'FORBIDDEN') return;
  audited.add(ctx);
  recordAudit(ctx, {
    action: 'PERMISSION_DENIED',
    actorId: ctx.viewer?.userId ?? null,
    metadata: { field: where, via: ctx.viewer?.via ?? 'anonymous' },
  }).catch((failure: unknown) => ctx.log.warn({ err: failure }, 'could not audit a permission denial'));
}

/**
 * Wraps the schema with graphql-shield: rules run before resolvers, the
 * fallback is `deny`, and a field missing from the map stops the server from
 * starting (deny by default, found at build time rather than in production).
 *
 * Fields whose rule is `allow` are left unwrapped: graphql-middleware would
 * otherwise turn every scalar of every list item into an extra promise.
 */
export function applyPermissions(schema: GraphQLSchema, permissions: PermissionMap): GraphQLSchema {
  const missing = fieldsWithoutRules(schema, permissions);
  if (missing.length > 0) throw new Error(`No permission rule for: ${missing.join(', ')}`);

  const generator = shield(permissions as IRules, {
    fallbackRule: deny,
    allowExternalErrors: true,
    debug: false,
    fallbackError: (thrown, _parent, _args, shieldCtx, info) => {
      // graphql-shield types the context loosely; it is this server's GraphQL context.
      const ctx = shieldCtx as unknown as GraphQLContext;
      const error =
        thrown instanceof AppError ? thrown : thrown ? (thrown as Error) : ctx.viewer ? appError('FORBIDDEN') : appError('UNAUTHENTICATED');
      if (error instanceof AppError) auditDenial(ctx, error, `${info.parentType.name}.${info.fieldName}`);
      return error;
    },
  });
  const middleware = generator.generate(schema) as Record<string, Record<string, unknown>>;
  for (const [typeName, rules] of Object.entries(permissions)) {
    for (const [field, fieldRule] of Object.entries(rules)) {
      if (fieldRule === allow && middleware[typeName]) delete middleware[typeName][field];
    }
  }
  return applyMiddleware(schema, middleware as Parameters<typeof applyMiddleware>[1]);
}

/** Rule maps for types whose every field is public (payloads, pages, value types). */
export function allowAll(schema: GraphQLSchema, typeName: string): Record<string, unknown> {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  return Object.fromEntries(Object.keys(type.getFields()).map((field) => [field, allow]));
}

export { getNamedType };
