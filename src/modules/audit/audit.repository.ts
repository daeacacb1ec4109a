import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import { shapedStatement } from '../../db/shaped.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, scanDirection } from '../../pagination/keyset.js';
import type { AuditEventRow, NewAuditEventRow } from './audit.table.js';

type AuditEventValues = { [column in keyof Omit<NewAuditEventRow, 'metadata'>]: NewAuditEventRow[column] } & { metadata: string };

/** Audited writes (order transitions, account changes) insert one each: compiled once per set of columns given (src/db/shaped.ts). */
const insertAuditEventRow = shapedStatement('audit.insert', (db, _shape: null, v: AuditEventValues) =>
  db.insertInto('audit_events').values({
    id: v.id,
    occurred_at: v.occurred_at,
    actor_id: v.actor_id,
    action: v.action,
    target_type: v.target_type,
    target_id: v.target_id,
    request_id: v.request_id,
    ip: v.ip,
    user_agent: v.user_agent,
    metadata: v.metadata,
  }),
);

export async function insertAuditEvent(db: Kysely<Database>, event: Omit<NewAuditEventRow, 'metadata'> & { metadata?: Record<string, unknown> }): Promise<void> {
  const { metadata, ...rest } = event;
  await insertAuditEventRow(db, null, {
    id: rest.id,
    occurred_at: rest.occurred_at,
    actor_id: rest.actor_id,
    action: rest.action,
    target_type: rest.target_type,
    target_id: rest.target_id,
    request_id: rest.request_id,
    ip: rest.ip,
    user_agent: rest.user_agent,
    metadata: JSON.stringify(metadata ?? {}),
  });
}

export interface AuditCriteria {
  actorId?: string;
  action?: string;
  occurredAfter?: Date;
  occurredBefore?: Date;
}

export type KeyedAuditEventRow = AuditEventRow & { cursor_key: string };

const COLUMNS = { key: 'a.occurred_at', id: 'a.id' };

function matching(criteria: AuditCriteria) {
  return (eb: ExpressionBuilder<Database & { a: Database['audit_events'] }, 'a'>) => {
    const conditions: Expression<SqlBool>[] = [];
    if (criteria.actorId !== undefined) conditions.push(eb('a.actor_id', '=', criteria.actorId));
    if (criteria.action !== undefined) conditions.push(eb('a.action', '=', criteria.action));
    if (criteria.occurredAfter !== undefined) conditions.push(eb('a.occurred_at', '>=', criteria.occurredAfter));
    if (criteria.occurredBefore !== undefined) conditions.push(eb('a.occurred_at', '<', criteria.occurredBefore));
    return eb.and(conditions);
  };
}

export async function findAuditEventPage(
  db: Kysely<Database>,
  criteria: AuditCriteria,
  request: PageRequest,
): Promise<KeyedAuditEventRow[]> {
  const direction = scanDirection(request);
  return db
    .selectFrom('audit_events as a')
    .selectAll('a')
    .select(cursorKey(COLUMNS).as('cursor_key'))
    .where(matching(criteria))
    .where(keysetCondition(COLUMNS, request))
    .orderBy(sql.ref(COLUMNS.key), direction)
    .orderBy('a.id', direction)
    .limit(request.limit + 1)
    .execute();
}

export async function countAuditEvents(db: Kysely<Database>, criteria: AuditCriteria): Promise<number> {
  const row = await db
    .selectFrom('audit_events as a')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(matching(criteria))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function findAuditEventsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<AuditEventRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('audit_events').selectAll().where('id', 'in', ids).execute();
}
