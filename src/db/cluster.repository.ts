/**
 * What the server asks PostgreSQL about the cluster, not rows: WAL
 * positions for the read-replica monitor (src/db/replicas.ts), settings for
 * the start-up checks (src/db/bootstrap.ts). WAL positions come back as text
 * (`16/B374D848`) and are compared here as numbers.
 */
import { sql, type Kysely } from 'kysely';

import type { Database } from './database.js';

/**
 * A WAL position (`pg_lsn`, two hexadecimal halves) as one number.
 *
 * @example walPosition('16/B374D848') // 0x16B374D848n
 */
export function walPosition(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** The primary's current WAL write position: everything committed before the call is at or below it. */
export async function currentWalPosition(db: Kysely<Database>): Promise<bigint> {
  const { rows } = await sql<{ lsn: string }>`SELECT pg_current_wal_lsn()::text AS lsn`.execute(db);
  const lsn = rows[0]?.lsn;
  if (lsn === undefined) throw new Error('pg_current_wal_lsn() returned no row');
  return walPosition(lsn);
}

/** A standby's state: whether it is still in recovery (a replica), and how far it has replayed the primary's WAL. */
export async function replayPosition(db: Kysely<Database>): Promise<{ inRecovery: boolean; replayed: bigint | null }> {
  const { rows } = await sql<{ in_recovery: boolean; replayed: string | null }>`
    SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_replay_lsn()::text AS replayed`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error('pg_is_in_recovery() returned no row');
  return { inRecovery: row.in_recovery, replayed: row.replayed === null ? null : walPosition(row.replayed) };
}

/** The value of a setting for statements run like `db`'s (`0` for a timeout that is off). */
export async function currentSetting(db: Kysely<Database>, name: string): Promise<string> {
  const { rows } = await sql<{ value: string }>`SELECT current_setting(${name}) AS value`.execute(db);
  return rows[0]?.value ?? '';
}
