import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';

import type { Database } from '../../db/database.js';
import type { PageRequest } from '../../pagination/connection.js';
import { cursorKey, keysetCondition, scanDirection } from '../../pagination/keyset.js';
import type { AuditEventRow, NewAuditEventRow } from './audit.table.js';

export async function insertAuditEvent(db: Kysely<Database>, event: Omit<NewAuditEventRow, 'metadata'> & { metadata?: Record<string, unknown> }): Promise<void> {
  const { metadata, ...rest } = event;
  await db
    .insertInto('audit_events')
    .values({ ...rest, metadata: JSON.stringify(metadata ?? {}) })
    .execute();
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
