/**
 * Shared by the unit-of-work test files: a database of their own, the
 * services' dependencies, a failing step and a row counter.
 */
import { afterAll, beforeAll } from '@jest/globals';

import type { AuthRuntime } from '../../src/auth/runtime.js';
import { unitOfWork } from '../../src/db/unit-of-work.js';
import { recordAudit } from '../../src/modules/audit/audit.service.js';
import type { AppLoaders } from '../../src/modules/registry.js';
import type { UserRow } from '../../src/modules/users/user.table.js';
import { updateUserEndingTokens } from '../../src/modules/users/user.service.js';
import type { ScopeDeps } from '../../src/scope/scope.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestAuthRuntime, jobScope, testDeps } from './scope.js';

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

/** Resolves for every caller once `parties` callers wait. */
export function barrier(parties: number): () => Promise<void> {
  let waiting = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  return () => {
    waiting += 1;
    if (waiting === parties) release();
    return all;
  };
}

/**
 * A real deadlock: two rerunnable units lock the same two users in opposite
 * orders (each bumps both token versions and records an audit event naming
 * itself), waiting for each other after their first lock on the first
 * attempt. PostgreSQL aborts one with 40P01, which the unit of work runs
 * again. Returns how often each unit ran.
 */
export async function deadlockTwoUnits(deps: ScopeDeps<AppLoaders>, first: UserRow, second: UserRow): Promise<{ ab: number; ba: number }> {
  const bothLocked = barrier(2);
  const attempts = { ab: 0, ba: 0 };
  const run = (name: 'ab' | 'ba', order: [string, string]) =>
    unitOfWork(
      jobScope(deps),
      async (unit) => {
        attempts[name] += 1;
        await updateUserEndingTokens(unit, order[0], {});
        if (attempts[name] === 1) await bothLocked();
        await updateUserEndingTokens(unit, order[1], {});
        await recordAudit(unit, { action: 'ROLE_CHANGED', actorId: first.id, metadata: { unit: name } });
      },
      { rerunnable: true },
    );
  await Promise.all([run('ab', [first.id, second.id]), run('ba', [second.id, first.id])]);
  return attempts;
}
