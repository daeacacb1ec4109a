import { allow, applyMiddleware, deny, shield, type IRules } from './shield-lib.js';
import { isObjectType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';

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
  const middleware = generator.generate(schema) as Record<string, Record<string, FieldMiddleware>>;
  for (const [typeName, fields] of Object.entries(middleware)) {
    for (const [field, entry] of Object.entries(fields)) {
      if (permissions[typeName]?.[field] === allow) delete fields[field];
      else fields[field] = auditingDenials(entry);
    }
  }
  return applyMiddleware(schema, middleware as Parameters<typeof applyMiddleware>[1]);
}

type MiddlewareFn = (
  resolve: (...args: unknown[]) => unknown,
  parent: unknown,
  args: unknown,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
) => Promise<unknown>;
type FieldMiddleware = MiddlewareFn | { resolve: MiddlewareFn; fragment?: string; fragments?: string[] };

/**
 * Rules answer with an AppError rather than `false` (so the client gets the
 * precise code), and graphql-shield returns such an answer without calling
 * `fallbackError`; this wrapper sees it and audits the denial.
 */
function auditingDenials(entry: FieldMiddleware): FieldMiddleware {
  const run = typeof entry === 'function' ? entry : entry.resolve;
  const wrapped: MiddlewareFn = async (resolve, parent, args, ctx, info) => {
    const result = await run(resolve, parent, args, ctx, info);
    if (result instanceof AppError) auditDenial(ctx, result, `${info.parentType.name}.${info.fieldName}`);
    return result;
  };
  return typeof entry === 'function' ? wrapped : { ...entry, resolve: wrapped };
}


