/**
 * Shared by the unit-of-work test files: a database of their own, the
 * services' dependencies, a failing step and a row counter.
 */
import { afterAll, beforeAll } from '@jest/globals';

import type { AuthRuntime } from '../../src/auth/runtime.js';
import type { AppLoaders } from '../../src/modules/registry.js';
import type { ScopeDeps } from '../../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestAuthRuntime, testDeps } from './scope.js';

/** The database, auth runtime and scope dependencies of the unit-of-work test files, set up by `startUnitOfWorkDatabase`. */
export let database: TestDatabase;
export let auth: AuthRuntime;
export let deps: ScopeDeps<AppLoaders>;

/** Creates the database and auth runtime before the file's tests and drops them after. */
export function startUnitOfWorkDatabase(): void {
  beforeAll(async () => {
    database = await createTestDatabase();
    auth = await createTestAuthRuntime();
    deps = testDeps(database.db, auth);
  });
  afterAll(async () => {
    await auth.close();
    await database.drop();
  });
}

/** The step after a service, failing on purpose. */
export class LaterStepFailed extends Error {}

export async function countRows(table: 'api_keys' | 'audit_events', userId: string): Promise<number> {
  const column = table === 'api_keys' ? 'user_id' : 'actor_id';
  const row = await database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(column, '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
