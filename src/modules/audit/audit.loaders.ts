import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { byKeys } from '../../loaders/batch.js';
import { findAuditEventsByIds } from './audit.repository.js';
import type { AuditEventRow } from './audit.table.js';

export type AuditLoaders = ReturnType<typeof createAuditLoaders>;

export function createAuditLoaders(db: Kysely<Database>) {
  return {
    auditEventById: new DataLoader<string, AuditEventRow | null>(async (ids) =>
      byKeys(ids, await findAuditEventsByIds(db, ids), (row) => row.id),
    ),
  };
}
