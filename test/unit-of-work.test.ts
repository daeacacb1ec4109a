import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { Writable } from 'node:stream';
import { pino } from 'pino';

import type { AuthRuntime } from '../src/auth/runtime.js';
import { PoolShare, runWithPoolShare } from '../src/db/connection.js';
import { afterCommit, isTransientFailure, retryDelayMs, unitOfWork } from '../src/db/unit-of-work.js';
import { createApiKey } from '../src/modules/accounts/api-key.service.js';
import { logIn } from '../src/modules/accounts/session.service.js';
import { recordAudit } from '../src/modules/audit/audit.service.js';
import type { AppLoaders } from '../src/modules/registry.js';
import { deactivateUser } from '../src/modules/accounts/admin.service.js';
import { setUserRole } from '../src/modules/users/admin.service.js';
import { updateUserEndingTokens } from '../src/modules/users/user.service.js';
import { recordChanges, type Change, type ChangeFeed } from '../src/scope/changes.js';
import type { ScopeDeps } from '../src/scope/scope.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createTestAuthRuntime, jobScope, testDeps, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';

let database: TestDatabase;
let auth: AuthRuntime;
let deps: ScopeDeps<AppLoaders>;

beforeAll(async () => {
  database = await createTestDatabase();
  auth = await createTestAuthRuntime();
  deps = testDeps(database.db, auth);
});

afterAll(async () => {
  await auth.close();
  await database.drop();
});

class LaterStepFailed extends Error {}

async function countRows(table: 'api_keys' | 'audit_events', userId: string): Promise<number> {
  const column = table === 'api_keys' ? 'user_id' : 'actor_id';
  const row = await database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(column, '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('services run in their caller\'s unit of work', () => {
  it('leaves nothing behind when the outer unit fails after the service wrote', async () => {
    const user = await seeder(database.db).user();
    const scope = jobScope(deps, viewerOf(user));
    await expect(
      unitOfWork(scope, async (unit) => {
        const created = await createApiKey(unit, { name: 'ci', scopes: ['catalog:read'] });
        expect(created.apiKey).not.toBeNull();
        throw new LaterStepFailed('the step after the service failed');
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    expect(await countRows('api_keys', user.id)).toBe(0);
    expect(await countRows('audit_events', user.id)).toBe(0);
  });

  it('commits the same service, with its audit event, when it is called alone', async () => {
    const user = await seeder(database.db).user();
    const created = await createApiKey(jobScope(deps, viewerOf(user)), { name: 'ci', scopes: ['catalog:read'] });
    expect(created.userErrors).toEqual([]);
    expect(await countRows('api_keys', user.id)).toBe(1);
    expect(await countRows('audit_events', user.id)).toBe(1);
  });

  it('rolls back two services together: a deactivation and a role change in one failed unit leave the user untouched', async () => {
    const seed = seeder(database.db);
    const admin = await seed.user({ role: 'ADMIN' });
    const target = await seed.user();
    const scope = jobScope(deps, viewerOf(admin));
    await expect(
      unitOfWork(scope, async (unit) => {
        await setUserRole(unit, { userId: target.id, role: 'SELLER' });
        await deactivateUser(unit, { userId: target.id });
        throw new LaterStepFailed();
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    const row = await database.db.selectFrom('users').selectAll().where('id', '=', target.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ role: 'CUSTOMER', deleted_at: null, token_version: target.token_version });
  });

  it('keeps the caller\'s work when a part run in a savepoint fails', async () => {
    const user = await seeder(database.db).user();
    const scope = jobScope(deps, viewerOf(user));
    await unitOfWork(scope, async (unit) => {
      await createApiKey(unit, { name: 'kept', scopes: ['catalog:read'] });
      await expect(
        unitOfWork(
          unit,
          async (part) => {
            await createApiKey(part, { name: 'dropped', scopes: ['catalog:read'] });
            throw new LaterStepFailed();
          },
          { savepoint: true },
        ),
      ).rejects.toBeInstanceOf(LaterStepFailed);
    });
    const names = await database.db.selectFrom('api_keys').select('name').where('user_id', '=', user.id).execute();
    expect(names).toEqual([{ name: 'kept' }]);
  });
});

describe('loaders inside a unit of work', () => {
  it('see a row written earlier in the unit, although the caller had loaded the old row', async () => {
    const seed = seeder(database.db);
    const admin = await seed.user({ role: 'ADMIN' });
    const target = await seed.user();
    const scope = jobScope(deps, viewerOf(admin));
    expect((await scope.loaders.userById.load(target.id))?.role).toBe('CUSTOMER');
    await unitOfWork(scope, async (unit) => {
      await setUserRole(unit, { userId: target.id, role: 'SELLER' });
      expect((await unit.loaders.userById.load(target.id))?.role).toBe('SELLER');
      // Not committed yet: nobody outside the unit sees it.
      const outside = await database.db.selectFrom('users').select('role').where('id', '=', target.id).executeTakeFirstOrThrow();
      expect(outside.role).toBe('CUSTOMER');
    });
    // After the commit the caller's loaders are fresh too.
    expect((await scope.loaders.userById.load(target.id))?.role).toBe('SELLER');
  });
});

describe('after-commit callbacks', () => {
  it('run exactly once, after the commit', async () => {
    const user = await seeder(database.db).user();
    const scope = jobScope(deps, viewerOf(user));
    const seen: string[] = [];
    await unitOfWork(scope, async (unit) => {
      await createApiKey(unit, { name: 'ci', scopes: ['catalog:read'] });
      await afterCommit(unit, async () => {
        // The commit is visible from another connection when the callback runs.
        seen.push(`keys=${await countRows('api_keys', user.id)}`);
      });
      await unitOfWork(unit, async (inner) => afterCommit(inner, () => void seen.push('nested')));
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual(['keys=1', 'nested']);
  });

  it('never run after a rollback, nor for a savepoint part that rolled back', async () => {
    const scope = jobScope(deps);
    const seen: string[] = [];
    await expect(
      unitOfWork(scope, async (unit) => {
        await afterCommit(unit, () => void seen.push('rolled back'));
        throw new LaterStepFailed();
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    await unitOfWork(scope, async (unit) => {
      await afterCommit(unit, () => void seen.push('outer'));
      await unitOfWork(
        unit,
        async (part) => {
          await afterCommit(part, () => void seen.push('failed part'));
          throw new LaterStepFailed();
        },
        { savepoint: true },
      ).catch(() => undefined);
    });
    expect(seen).toEqual(['outer']);
  });

  it('do not fail the committed work when they throw', async () => {
    const user = await seeder(database.db).user();
    const lines: string[] = [];
    const log = pino({ level: 'error' }, new Writable({ write: (chunk: Buffer, _e, done) => { lines.push(chunk.toString()); done(); } }));
    const scope = jobScope(deps, viewerOf(user), log);
    await unitOfWork(scope, async (unit) => {
      await createApiKey(unit, { name: 'ci', scopes: ['catalog:read'] });
      await afterCommit(unit, () => {
        throw new Error('cache unreachable');
      });
    });
    expect(await countRows('api_keys', user.id)).toBe(1);
    expect(lines.join('')).toContain('after-commit callback failed');
  });

  it('announce recorded changes to the change feed once per committed unit, never after a rollback', async () => {
    const published: Change[][] = [];
    const feed: ChangeFeed = { publish: (changes) => void published.push([...changes]) };
    const scope = jobScope({ ...deps, changes: feed });
    await unitOfWork(scope, async (unit) => {
      await recordChanges(unit, { entity: 'product', id: 'p1' });
      await unitOfWork(unit, (inner) => recordChanges(inner, { entity: 'review', id: 'r1', productId: 'p1' }));
      await recordChanges(unit, { entity: 'category', id: 'c1' });
      expect(published).toEqual([]);
    });
    expect(published).toEqual([[{ entity: 'product', id: 'p1' }, { entity: 'review', id: 'r1', productId: 'p1' }, { entity: 'category', id: 'c1' }]]);

    await expect(
      unitOfWork(scope, async (unit) => {
        await recordChanges(unit, { entity: 'product', id: 'p2' });
        throw new LaterStepFailed();
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    expect(published).toHaveLength(1);

    await recordChanges(scope, { entity: 'user', id: 'u1' });
    expect(published[1]).toEqual([{ entity: 'user', id: 'u1' }]);
  });
});

describe('transient failures', () => {
  const serializationFailure = () => Object.assign(new Error('could not serialize access'), { code: '40001' });

  it('re-runs rerunnable work after a serialization failure, keeping only the last attempt\'s callbacks', async () => {
    const scope = jobScope(deps);
    let attempts = 0;
    let callbacks = 0;
    const result = await unitOfWork(
      scope,
      async (unit) => {
        attempts += 1;
        await afterCommit(unit, () => void (callbacks += 1));
        if (attempts < 3) throw serializationFailure();
        return 'done';
      },
      { rerunnable: true },
    );
    expect(result).toBe('done');
    expect(attempts).toBe(3);
    expect(callbacks).toBe(1);
  });

  it('gives up after a bounded number of attempts', async () => {
    let attempts = 0;
    const failing = unitOfWork(jobScope(deps), async () => {
      attempts += 1;
      throw serializationFailure();
    }, { rerunnable: true, maxAttempts: 3 });
    await expect(failing).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(3);
  });

  it('does not re-run work that is not marked rerunnable, nor other errors', async () => {
    let attempts = 0;
    await expect(unitOfWork(jobScope(deps), async () => {
      attempts += 1;
      throw serializationFailure();
    })).rejects.toMatchObject({ code: '40001' });
    await expect(unitOfWork(jobScope(deps), async () => {
      attempts += 1;
      throw Object.assign(new Error('duplicate'), { code: '23505' });
    }, { rerunnable: true })).rejects.toMatchObject({ code: '23505' });
    expect(attempts).toBe(2);
  });

  it('re-runs only at the outermost level: a nested unit lets the failure reach the outer one, which runs everything again', async () => {
    const log: string[] = [];
    let innerRuns = 0;
    await unitOfWork(
      jobScope(deps),
      async (unit) => {
        log.push('outer');
        await unitOfWork(
          unit,
          async () => {
            innerRuns += 1;
            log.push('inner');
            if (innerRuns === 1) throw serializationFailure();
          },
          { rerunnable: true },
        );
      },
      { rerunnable: true },
    );
    expect(log).toEqual(['outer', 'inner', 'outer', 'inner']);
  });

  it('recognises 40001 and 40P01 only, and spreads the waits with jitter under a growing cap', () => {
    expect(isTransientFailure({ code: '40001' })).toBe(true);
    expect(isTransientFailure({ code: '40P01' })).toBe(true);
    expect(isTransientFailure({ code: '23505' })).toBe(false);
    expect(isTransientFailure(new Error('x'))).toBe(false);
    expect(retryDelayMs(1, () => 0)).toBe(0);
    expect(retryDelayMs(1, () => 0.999)).toBeLessThan(retryDelayMs(4, () => 0.999));
    expect(retryDelayMs(30, () => 0.999)).toBeLessThanOrEqual(500);
  });

  it('retries the loser of a real deadlock, and each unit\'s work is done exactly once', async () => {
    const seed = seeder(database.db);
    const [first, second] = await Promise.all([seed.user(), seed.user()]);
    const bothLocked = barrier(2);
    const attempts = { ab: 0, ba: 0 };
    // Two units lock the same two rows in opposite orders; PostgreSQL aborts one with 40P01.
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
    expect(attempts.ab + attempts.ba).toBe(3);
    const rows = await database.db.selectFrom('users').select(['id', 'token_version']).where('id', 'in', [first.id, second.id]).execute();
    // Each unit bumped each row once: twice in all, not three times.
    expect(rows.map((row) => row.token_version)).toEqual([first.token_version + 2, second.token_version + 2]);
    const events = await database.db.selectFrom('audit_events').select(sql<string>`metadata->>'unit'`.as('unit')).where('actor_id', '=', first.id).execute();
    expect(events.map((event) => event.unit).sort()).toEqual(['ab', 'ba']);
  }, 20_000);
});

describe('a scope built without Fastify or Apollo', () => {
  it('runs a sign-in service: session, audit event and effects for the transport to apply', async () => {
    const user = await seeder(database.db).user();
    await database.db.updateTable('users').set({ password_hash: await hashPassword('a job worker password') }).where('id', '=', user.id).execute();
    const result = await logIn(jobScope(deps), { email: user.email, password: 'a job worker password', refreshTokenDelivery: 'COOKIE' });
    expect(result.userErrors).toEqual([]);
    expect(result.accessToken).toEqual(expect.any(String));
    expect(result.effects.map((effect) => effect.kind)).toEqual(['actAs', 'setCookie']);
    const sessions = await database.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
    expect(sessions).toHaveLength(1);
  });
});

describe('changes recorded in savepoint parts', () => {
  /** A change feed that keeps what it hears, one entry per publish. */
  function listeningScope() {
    const heard: Change[][] = [];
    const feed: ChangeFeed = { publish: (changes) => void heard.push([...changes]) };
    return { heard, scope: jobScope({ ...deps, changes: feed }) };
  }

  async function failingPart(unit: Parameters<Parameters<typeof unitOfWork>[1]>[0], ...changes: Change[]) {
    await expect(
      unitOfWork(
        unit,
        async (part) => {
          await recordChanges(part, ...changes);
          throw new LaterStepFailed();
        },
        { savepoint: true },
      ),
    ).rejects.toBeInstanceOf(LaterStepFailed);
  }

  it('drops the changes of a part that rolled back; the changes before and after it are announced once, in order, after commit', async () => {
    const { heard, scope } = listeningScope();
    await unitOfWork(scope, async (unit) => {
      await recordChanges(unit, { entity: 'product', id: 'before' });
      await failingPart(unit, { entity: 'product', id: 'rolled back' }, { entity: 'category', id: 'rolled back' });
      await unitOfWork(unit, (kept) => recordChanges(kept, { entity: 'category', id: 'kept part' }), { savepoint: true });
      await recordChanges(unit, { entity: 'user', id: 'after' });
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual([
      [
        { entity: 'product', id: 'before' },
        { entity: 'category', id: 'kept part' },
        { entity: 'user', id: 'after' },
      ],
    ]);
  });

  it('still announces the unit\'s changes when its first change was in a part that rolled back', async () => {
    const { heard, scope } = listeningScope();
    await unitOfWork(scope, async (unit) => {
      await failingPart(unit, { entity: 'product', id: 'first, rolled back' });
      await recordChanges(unit, { entity: 'product', id: 'second' });
      await unitOfWork(unit, (inner) => recordChanges(inner, { entity: 'order', id: 'third' }));
    });
    expect(heard).toEqual([[{ entity: 'product', id: 'second' }, { entity: 'order', id: 'third' }]]);
  });

  it('announces nothing when the only changes were in a part that rolled back', async () => {
    const { heard, scope } = listeningScope();
    await unitOfWork(scope, (unit) => failingPart(unit, { entity: 'product', id: 'gone' }));
    expect(heard).toEqual([]);
  });
});

describe('a detached unit inside a unit of work', () => {
  async function keyNames(userId: string): Promise<string[]> {
    const rows = await database.db.selectFrom('api_keys').select('name').where('user_id', '=', userId).orderBy('name').execute();
    return rows.map((row) => row.name);
  }

  it('commits on its own although the outer unit rolls back', async () => {
    const user = await seeder(database.db).user();
    await expect(
      unitOfWork(jobScope(deps, viewerOf(user)), async (unit) => {
        await createApiKey(unit, { name: 'outer', scopes: ['catalog:read'] });
        await unitOfWork(unit, (own) => createApiKey(own, { name: 'detached', scopes: ['catalog:read'] }), { detached: true });
        // Committed already, as another connection sees, while the outer unit is still open.
        expect(await keyNames(user.id)).toEqual(['detached']);
        throw new LaterStepFailed();
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    expect(await keyNames(user.id)).toEqual(['detached']);
  });

  it('rolls back on its own while the outer unit goes on and commits', async () => {
    const user = await seeder(database.db).user();
    await unitOfWork(jobScope(deps, viewerOf(user)), async (unit) => {
      await createApiKey(unit, { name: 'outer', scopes: ['catalog:read'] });
      await expect(
        unitOfWork(
          unit,
          async (own) => {
            await createApiKey(own, { name: 'detached', scopes: ['catalog:read'] });
            throw new LaterStepFailed();
          },
          { detached: true },
        ),
      ).rejects.toBeInstanceOf(LaterStepFailed);
    });
    expect(await keyNames(user.id)).toEqual(['outer']);
  });

  it('does not see the outer unit\'s uncommitted writes, and the outer unit reads the detached commit through fresh loaders', async () => {
    const seed = seeder(database.db);
    const admin = await seed.user({ role: 'ADMIN' });
    const target = await seed.user();
    const other = await seed.user();
    await unitOfWork(jobScope(deps, viewerOf(admin)), async (unit) => {
      await setUserRole(unit, { userId: target.id, role: 'SELLER' });
      expect((await unit.loaders.userById.load(other.id))?.role).toBe('CUSTOMER');
      await unitOfWork(
        unit,
        async (own) => {
          expect((await own.loaders.userById.load(target.id))?.role).toBe('CUSTOMER');
          await setUserRole(own, { userId: other.id, role: 'SELLER' });
        },
        { detached: true },
      );
      // The outer transaction sees the committed row; what its loaders cached before is gone.
      expect((await unit.loaders.userById.load(other.id))?.role).toBe('SELLER');
      expect((await unit.loaders.userById.load(target.id))?.role).toBe('SELLER');
    });
  });

  it('runs its after-commit callbacks and announces its changes after its own commit, before the outer unit ends', async () => {
    const heard: Change[][] = [];
    const seen: string[] = [];
    const user = await seeder(database.db).user();
    const scope = jobScope({ ...deps, changes: { publish: (changes) => void heard.push([...changes]) } }, viewerOf(user));
    await unitOfWork(scope, async (unit) => {
      await recordChanges(unit, { entity: 'product', id: 'outer' });
      await afterCommit(unit, () => void seen.push('outer callback'));
      await unitOfWork(
        unit,
        async (own) => {
          await createApiKey(own, { name: 'detached', scopes: ['catalog:read'] });
          await recordChanges(own, { entity: 'product', id: 'detached' });
          await afterCommit(own, async () => void seen.push(`detached callback, keys=${await countRows('api_keys', user.id)}`));
        },
        { detached: true },
      );
      expect(seen).toEqual(['detached callback, keys=1']);
      expect(heard).toEqual([[{ entity: 'product', id: 'detached' }]]);
    });
    expect(seen).toEqual(['detached callback, keys=1', 'outer callback']);
    expect(heard).toEqual([[{ entity: 'product', id: 'detached' }], [{ entity: 'product', id: 'outer' }]]);
  });

  it('gets a connection of its own when the work may hold only one: the outer unit\'s does not block it', async () => {
    const user = await seeder(database.db).user();
    // A share of one connection, as DATABASE_POOL_MAX_PER_REQUEST=1 gives each request; a wait would fail after 10 s.
    const share = new PoolShare(1, 10_000);
    await runWithPoolShare(share, () =>
      unitOfWork(jobScope(deps, viewerOf(user)), async (unit) => {
        await createApiKey(unit, { name: 'outer', scopes: ['catalog:read'] });
        await unitOfWork(unit, (own) => createApiKey(own, { name: 'detached', scopes: ['catalog:read'] }), { detached: true });
        await createApiKey(unit, { name: 'outer again', scopes: ['catalog:read'] });
      }),
    );
    expect(await keyNames(user.id)).toEqual(['detached', 'outer', 'outer again']);
    // Every slot came back: the share lends its one connection at once.
    const release = await share.acquire();
    release();
  });
});

/** Resolves once `parties` callers wait on it. */
function barrier(parties: number): () => Promise<void> {
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
