import type { ControlledTransaction } from 'kysely';

import type { Database } from './database.js';

/** A callback to run once the outermost unit of work has committed. */
export type AfterCommit = () => void | Promise<void>;

/** The state of an open unit of work (src/db/unit-of-work.ts), carried by the scopes that run in it. */
export interface UnitState {
  readonly trx: ControlledTransaction<Database>;
  readonly callbacks: AfterCommit[];
  savepoints: number;
}
