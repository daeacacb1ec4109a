import { actsAsAdmin } from '../../auth/viewer.js';
import type { Scope } from '../../scope/scope.js';
import type { AuditLoaders } from './audit.loaders.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import { badUserInput } from '../../errors/errors.js';
import { countAuditEvents, findAuditEventPage, insertAuditEvent, type KeyedAuditEventRow } from './audit.repository.js';

/**
 * Every action the audit log records, by name: the audit module's own here,
 * the others' added by each module from its `index.ts` (interface merging:
 * `declare module '../audit/audit.service.js' { interface AuditActions { ... } }`),
 * so the audit module names nothing of theirs.
 */
export interface AuditActions {
  /** A request was refused by the permission layer (src/authz/shield.ts). */
  PERMISSION_DENIED: true;
}

export type AuditAction = keyof AuditActions;

export interface AuditEntry {
  action: AuditAction;
  actorId: string | null;
  targetType?: string;
  targetId?: string;
  metadata?: Record<string, unknown>;
}

/**
 * Writes an audit event with the request's id, IP and user agent, in the
 * scope's unit of work: it commits with the change it records, or not at all.
 */
export async function recordAudit(ctx: Scope, entry: AuditEntry): Promise<void> {
  await insertAuditEvent(ctx.db, {
    action: entry.action,
    actor_id: entry.actorId,
    target_type: entry.targetType ?? null,
    target_id: entry.targetId ?? null,
    request_id: ctx.request.id,
    ip: ctx.request.ip,
    user_agent: ctx.request.userAgent,
    metadata: entry.metadata ?? {},
  });
}

export interface AuditListArgs extends ConnectionArgs {
  filter?: { actorId?: string | null; action?: string | null; occurredAfter?: Date | string | null; occurredBefore?: Date | string | null } | null;
}

export async function listAuditEvents(ctx: Scope, args: AuditListArgs): Promise<Connection<KeyedAuditEventRow>> {
  const filter = args.filter ?? {};
  const criteria = {
    ...(filter.actorId != null ? { actorId: filter.actorId } : {}),
    ...(filter.action != null ? { action: filter.action } : {}),
    ...(filter.occurredAfter != null ? { occurredAfter: new Date(filter.occurredAfter) } : {}),
    ...(filter.occurredBefore != null ? { occurredBefore: new Date(filter.occurredBefore) } : {}),
  };
  if (criteria.action !== undefined && !/^[A-Z][A-Z_]{0,63}$/.test(criteria.action)) {
    throw badUserInput('filter.action', '`filter.action` must be an action name such as `LOGIN_FAILED`.');
  }
  const request = parsePageRequest(args, { name: 'OCCURRED_AT', kind: 'timestamp', direction: 'DESC' });
  const rows = await findAuditEventPage(ctx.db, criteria, request);
  return toConnection(rows, request, () => countAuditEvents(ctx.db, criteria));
}

/** An audit event by id: admins in person only (not their API keys), `null` for everyone else. */
export async function getAuditEvent(ctx: Scope<AuditLoaders>, id: string) {
  if (!actsAsAdmin(ctx.viewer)) return null;
  return ctx.loaders.auditEventById.load(id);
}
