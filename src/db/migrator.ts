import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';

import { migrations } from '../../migrations/index.js';

// The migrator only touches its own bookkeeping tables and the migrations'
// historical schema, so it accepts a Kysely instance of any database type.

export function createMigrator<DB>(db: Kysely<DB>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
}

function throwOnError(result: MigrationResultSet, action: string): MigrationResultSet {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`${action} failed${failed ? ` at ${failed.migrationName}` : ''}`, { cause: result.error });
  }
  return result;
}

export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<MigrationResultSet> {
  return throwOnError(await createMigrator(db).migrateToLatest(), 'migration');
}

export async function rollbackOne<DB>(db: Kysely<DB>): Promise<MigrationResultSet> {
  return throwOnError(await createMigrator(db).migrateDown(), 'rollback');
}

export interface MigrationState {
  name: string;
  executedAt: Date | undefined;
}

export async function migrationStatus<DB>(db: Kysely<DB>): Promise<MigrationState[]> {
  const infos = await createMigrator(db).getMigrations();
  return infos.map((info) => ({ name: info.name, executedAt: info.executedAt }));
}

/** Names of migrations not yet applied; empty when the schema is current. */
export async function pendingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  return (await migrationStatus(db)).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
