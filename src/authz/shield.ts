import { allow, applyMiddleware, deny, shield, type IRules } from './shield-lib.js';
import { isObjectType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';

import { AppError, appError } from '../errors/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { recordAudit } from '../modules/audit/audit.service.js';
import { createOperationAuthorizer, type OperationAuthorizer, type RootFieldCheck } from './operation-authorization.js';

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

/** The schema with its permission layer, and the same rules asked before execution (src/authz/operation-authorization.ts). */
export interface PermittedSchema {
  schema: GraphQLSchema;
  authorizeOperation: OperationAuthorizer;
}

/**
 * Wraps the schema with graphql-shield: rules run before resolvers, the
 * fallback is `deny`, and a field missing from the map stops the server from
 * starting (deny by default, found at build time rather than in production).
 *
 * Fields whose rule is `allow` are left unwrapped: graphql-middleware would
 * otherwise turn every scalar of every list item into an extra promise.
 * Mutation fields are always wrapped: a context with `mutationsBlocked` set
 * (an idempotent request its caller may no longer run) runs none of them.
 */
export function applyPermissions(schema: GraphQLSchema, permissions: PermissionMap): PermittedSchema {
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
  const checks = new Map<string, MiddlewareFn>();
  const mutationType = schema.getMutationType()?.name;
  for (const [typeName, fields] of Object.entries(middleware)) {
    for (const [field, entry] of Object.entries(fields)) {
      const open = permissions[typeName]?.[field] === allow;
      const audited = open ? undefined : auditingDenials(entry);
      if (audited) checks.set(`${typeName}.${field}`, typeof audited === 'function' ? audited : audited.resolve);
      if (typeName === mutationType) fields[field] = blockable(audited ?? passThrough);
      else if (audited) fields[field] = audited;
      else delete fields[field];
    }
  }
  const check = (typeName: string, field: string): RootFieldCheck | undefined => checks.get(`${typeName}.${field}`);
  const permitted = applyMiddleware(schema, middleware as Parameters<typeof applyMiddleware>[1]);
  return { schema: permitted, authorizeOperation: createOperationAuthorizer(permitted, check) };
}

type MiddlewareFn = (
  resolve: (...args: unknown[]) => unknown,
  parent: unknown,
  args: unknown,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
) => Promise<unknown>;
type FieldMiddleware = MiddlewareFn | { resolve: MiddlewareFn; fragment?: string; fragments?: string[] };

const passThrough: MiddlewareFn = async (resolve, parent, args, ctx, info) => resolve(parent, args, ctx, info);

/** The refusal of a mutation whose rule allowed it in a context that runs none (see `applyPermissions`). */
function blocked(): AppError {
  return appError('FORBIDDEN', 'You are not allowed to do this.');
}

/** A mutation field's middleware that, when the context says so, lets its rule speak but never runs the resolver. */
function blockable(entry: FieldMiddleware): FieldMiddleware {
  const run = typeof entry === 'function' ? entry : entry.resolve;
  const wrapped: MiddlewareFn = async (resolve, parent, args, ctx, info) =>
    run(ctx.mutationsBlocked ? () => blocked() : resolve, parent, args, ctx, info);
  return typeof entry === 'function' ? wrapped : { ...entry, resolve: wrapped };
}

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


