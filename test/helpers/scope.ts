/**
 * Scopes for calling services directly, as a job worker or a script would:
 * built with buildScope from a database handle, with no Fastify request and
 * no Apollo context anywhere.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { pino } from 'pino';

import { createAuthRuntime, type AuthRuntime } from '../../src/auth/runtime.js';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig } from '../../src/config/config.js';
import type { Database } from '../../src/db/database.js';
import { createLoaders, type AppLoaders } from '../../src/modules/registry.js';
import type { UserRow } from '../../src/modules/users/user.table.js';
import { buildScope, type Scope, type ScopeDeps, type ScopeInput, type ScopeLogger } from '../../src/scope/scope.js';
import type { TransitionStates } from '../../src/transitions/phases.js';

export async function createTestAuthRuntime(): Promise<AuthRuntime> {
  return createAuthRuntime(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://unused@127.0.0.1/unused' }));
}

/**
 * The phases of a database migrated to the latest migration, as every test
 * database is (a clone of the migrated template): every schema change made
 * in phases is contracted. Tests of the earlier phases read them from their
 * database (src/transitions/watcher.ts) instead.
 */
export const LATEST_SCHEMA: TransitionStates = { phase: () => 'contracted' };

export function testDeps(db: Kysely<Database>, auth: AuthRuntime): ScopeDeps<AppLoaders> {
  return { db, auth, createLoaders, transitions: LATEST_SCHEMA };
}

/** A person signed in with a session, as authentication would describe them. */
export function viewerOf(user: UserRow): Viewer {
  return { userId: user.id, role: user.role, via: 'session', sessionId: null, apiKeyId: null, scopes: null };
}

export function jobScope(deps: ScopeDeps<AppLoaders>, viewer: Viewer | null = null, log: ScopeLogger = pino({ level: 'silent' })): Scope<AppLoaders> {
  return buildScope(jobScopeInput(deps, viewer, log));
}

/** What `jobScope` builds its scope from, for a test that changes a part of it (the pool handle, say). */
export function jobScopeInput(deps: ScopeDeps<AppLoaders>, viewer: Viewer | null = null, log: ScopeLogger = pino({ level: 'silent' })): ScopeInput<AppLoaders> {
  return { deps, request: { id: `job-${randomUUID()}`, ip: '127.0.0.1', userAgent: 'test worker', origin: null, cookies: {} }, log, viewer };
}
