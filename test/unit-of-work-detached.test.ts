/**
 * A detached unit inside a unit of work commits or rolls back on its own,
 * sees only committed rows, runs its callbacks after its own commit, and
 * gets a connection of its own.
 */
import { describe, expect, it } from '@jest/globals';

import { PoolShare, withPoolShare } from '../src/db/pool-share.js';
import { afterCommit, unitOfWork } from '../src/db/unit-of-work.js';
import { createApiKey } from '../src/modules/accounts/api-key.service.js';
import { setUserRole } from '../src/modules/users/admin.service.js';
import { recordChanges, type Change } from '../src/scope/changes.js';
import { buildScope } from '../src/scope/scope.js';
import { jobScope, jobScopeInput, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { database, deps, LaterStepFailed, countRows, startUnitOfWorkDatabase } from './helpers/unit-of-work.js';

startUnitOfWorkDatabase();

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
    // The scope an HTTP request builds: its handle on the pool takes from the share.
    const requestScope = buildScope({ ...jobScopeInput(deps, viewerOf(user)), db: withPoolShare(deps.db, share) });
    await unitOfWork(requestScope, async (unit) => {
      await createApiKey(unit, { name: 'outer', scopes: ['catalog:read'] });
      await unitOfWork(unit, (own) => createApiKey(own, { name: 'detached', scopes: ['catalog:read'] }), { detached: true });
      await createApiKey(unit, { name: 'outer again', scopes: ['catalog:read'] });
    });
    expect(await keyNames(user.id)).toEqual(['detached', 'outer', 'outer again']);
    // Every slot came back: the share lends its one connection at once.
    const release = await share.acquire();
    release();
  });
});

/** Resolves once `parties` callers wait on it. */
