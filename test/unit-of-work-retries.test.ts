/**
 * The unit of work re-runs rerunnable work after a transient failure
 * (serialization failure, deadlock): bounded attempts, jittered waits, only
 * at the outermost level, and each unit's work done exactly once.
 */
import { describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { afterCommit, isTransientFailure, retryDelayMs, unitOfWork } from '../src/db/unit-of-work.js';
import { jobScope } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { database, deadlockTwoUnits, deps, startUnitOfWorkDatabase } from './helpers/unit-of-work.js';

startUnitOfWorkDatabase();

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
    const attempts = await deadlockTwoUnits(deps, first, second);
    expect(attempts.ab + attempts.ba).toBe(3);
    const rows = await database.db.selectFrom('users').select(['id', 'token_version']).where('id', 'in', [first.id, second.id]).execute();
    // Each unit bumped each row once: twice in all, not three times.
    expect(rows.map((row) => row.token_version)).toEqual([first.token_version + 2, second.token_version + 2]);
    const events = await database.db.selectFrom('audit_events').select(sql<string>`metadata->>'unit'`.as('unit')).where('actor_id', '=', first.id).execute();
    expect(events.map((event) => event.unit).sort()).toEqual(['ab', 'ba']);
  }, 20_000);
});
