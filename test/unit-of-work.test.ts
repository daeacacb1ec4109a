/**
 * The unit of work (src/db/unit-of-work.ts), through services called with a
 * scope built without HTTP: services run in their caller's unit, loaders see
 * the unit's own writes, after-commit callbacks and announced changes follow
 * the commit (savepoint parts included). Retries of transient failures:
 * unit-of-work-retries.test.ts; detached units: unit-of-work-detached.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';

import { afterCommit, unitOfWork } from '../src/db/unit-of-work.js';
import { createApiKey } from '../src/modules/accounts/api-key.service.js';
import { logIn } from '../src/modules/accounts/session.service.js';
import { deactivateUser } from '../src/modules/accounts/admin.service.js';
import { setUserRole } from '../src/modules/users/admin.service.js';
import { recordChanges, type Change, type ChangeFeed } from '../src/scope/changes.js';
import { hashPassword } from '../src/auth/passwords.js';
import { jobScope, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { database, deps, LaterStepFailed, countRows, startUnitOfWorkDatabase } from './helpers/unit-of-work.js';

startUnitOfWorkDatabase();

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
