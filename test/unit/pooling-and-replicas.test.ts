/**
 * The pure parts of running behind a transaction pooler and with read
 * replicas: the configuration (what is refused, what each connection
 * uses), WAL positions, and the read-your-writes marks.
 */
import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '../../src/config/config.js';
import { directUrl, workerDatabaseUrl } from '../../src/db/bootstrap.js';
import { walPosition } from '../../src/db/cluster.repository.js';
import { createWriterMarks } from '../../src/db/read-your-writes.js';
import type { RedisClient } from '../../src/redis/client.js';

const POOLER = 'postgres://app:secret@pgbouncer:6432/app';
const DIRECT = 'postgres://app:secret@db:5432/app';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration of the pooler and the replicas', () => {
  it('refuses DATABASE_POOLER=transaction without a direct connection, or without the pooler\'s URL', () => {
    expect(problems({ DATABASE_POOLER: 'transaction', DATABASE_URL: POOLER })).toEqual([
      'DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL (a direct connection for LISTEN, migrations and the job worker)',
    ]);
    expect(problems({ DATABASE_POOLER: 'transaction' })).toEqual([
      'DATABASE_POOLER=transaction needs DATABASE_URL (the pooler) and DATABASE_DIRECT_URL (a direct connection for LISTEN, migrations and the job worker)',
    ]);
    expect(problems({ DATABASE_POOLER: 'session', DATABASE_URL: POOLER })).toEqual(['DATABASE_POOLER must be one of none, transaction (got "session")']);
  });

  it('sends LISTEN, migrations and the worker to DATABASE_DIRECT_URL behind a transaction pooler, else to the database\'s own URL', () => {
    const pooled = loadConfig({ DATABASE_POOLER: 'transaction', DATABASE_URL: POOLER, DATABASE_DIRECT_URL: DIRECT });
    expect({ direct: directUrl(pooled, POOLER), worker: workerDatabaseUrl(pooled, POOLER) }).toEqual({ direct: DIRECT, worker: DIRECT });
    const own = loadConfig({ DATABASE_POOLER: 'transaction', DATABASE_URL: POOLER, DATABASE_DIRECT_URL: DIRECT, WORKER_DATABASE_URL: 'postgres://worker@db/app' });
    expect(workerDatabaseUrl(own, POOLER)).toBe('postgres://worker@db/app');
    // Without a pooler DATABASE_DIRECT_URL is not used.
    const direct = loadConfig({ DATABASE_URL: DIRECT, DATABASE_DIRECT_URL: 'postgres://elsewhere/app' });
    expect({ direct: directUrl(direct, DIRECT), worker: workerDatabaseUrl(direct, DIRECT) }).toEqual({ direct: DIRECT, worker: DIRECT });
  });

  it('reads READ_DATABASE_URL as a list, refuses repeats and other schemes without echoing them, and needs DATABASE_URL', () => {
    expect(loadConfig({ DATABASE_URL: DIRECT, READ_DATABASE_URL: 'postgres://r1/app, postgres://r2/app' }).readReplicas).toEqual({
      urls: ['postgres://r1/app', 'postgres://r2/app'],
      maxLagMs: 2_000,
    });
    expect(problems({ DATABASE_URL: DIRECT, READ_DATABASE_URL: 'postgres://r1/app,postgres://r1/app' })).toEqual(['READ_DATABASE_URL must not name the same URL twice']);
    const refused = problems({ DATABASE_URL: DIRECT, READ_DATABASE_URL: 'postgres://r1/app,mysql://root:hunter2@r2/app' });
    expect(refused).toEqual(['READ_DATABASE_URL must be postgres:// or postgresql:// URLs separated by commas']);
    expect(problems({ READ_DATABASE_URL: 'postgres://r1/app' })).toEqual([
      'READ_DATABASE_URL needs DATABASE_URL (the primary the replicas follow); the embedded PostgreSQL has no replicas',
    ]);
  });

  it('reads READ_REPLICA_MAX_LAG in milliseconds or seconds, within 100 ms and 600 s', () => {
    const lag = (value: string) => loadConfig({ DATABASE_URL: DIRECT, READ_REPLICA_MAX_LAG: value }).readReplicas.maxLagMs;
    expect([lag('750'), lag('750ms'), lag('3s'), lag('600s')]).toEqual([750, 750, 3_000, 600_000]);
    for (const bad of ['99', '601s', '2m', 'fast', '1.5s']) {
      expect(problems({ READ_REPLICA_MAX_LAG: bad })).toEqual([`READ_REPLICA_MAX_LAG must be a duration from 100ms to 600s, such as 500, 500ms or 2s (got "${bad}")`]);
    }
  });
});

describe('WAL positions', () => {
  it('reads a pg_lsn as one number, ordered as PostgreSQL orders them', () => {
    expect(walPosition('0/0')).toBe(0n);
    expect(walPosition('16/B374D848')).toBe(0x16b374d848n);
    expect(walPosition('1/0') > walPosition('0/FFFFFFFF')).toBe(true);
    expect(() => walPosition('16-B374D848')).toThrow(/not a WAL position/);
  });
});

describe('read-your-writes marks', () => {
  it('remember a writer for the window, then forget them', async () => {
    let now = 1_000;
    const marks = createWriterMarks({ windowMs: 2_000, now: () => now });
    await marks.wrote(['a', 'b', 'a']);
    expect([await marks.recentlyWrote('a'), await marks.recentlyWrote('b'), await marks.recentlyWrote('c')]).toEqual([true, true, false]);
    now += 1_999;
    expect(await marks.recentlyWrote('a')).toBe(true);
    now += 1;
    expect(await marks.recentlyWrote('a')).toBe(false);
    // A new write starts a new window.
    await marks.wrote(['a']);
    now += 1_500;
    expect(await marks.recentlyWrote('a')).toBe(true);
  });

  it('share marks through Redis with the window as expiry, and count a Redis that does not answer as a recent write', async () => {
    const keys = new Map<string, number>();
    let answers = true;
    const failures: unknown[] = [];
    const redis = {
      async set(key: string, _value: string, _px: 'PX', ms: number) {
        if (!answers) throw new Error('Redis is away');
        keys.set(key, ms);
        return 'OK';
      },
      async exists(key: string) {
        if (!answers) throw new Error('Redis is away');
        return keys.has(key) ? 1 : 0;
      },
    } as unknown as RedisClient;
    const here = createWriterMarks({ windowMs: 2_000, redis, onRedisError: (error) => failures.push(error) });
    const elsewhere = createWriterMarks({ windowMs: 2_000, redis });
    await here.wrote(['writer']);
    expect([...keys]).toEqual([['marketplace:ryw:writer', 2_000]]);
    // Another instance finds the mark in Redis.
    expect([await elsewhere.recentlyWrote('writer'), await elsewhere.recentlyWrote('reader')]).toEqual([true, false]);
    answers = false;
    expect(await here.recentlyWrote('reader')).toBe(true);
    await here.wrote(['other']);
    expect(await here.recentlyWrote('other')).toBe(true);
    expect(failures).toHaveLength(2);
  });
});
