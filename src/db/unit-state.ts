import type { ControlledTransaction } from 'kysely';

import type { Change } from '../scope/change-feed.js';
import type { DomainEvent } from '../scope/event-types.js';
import type { Database } from './database.js';

/** A callback to run once the unit of work it was registered in has committed. */
export type AfterCommit = () => void | Promise<void>;

/** The state of an open unit of work (src/db/unit-of-work.ts), carried by the scopes that run in it. */
export interface UnitState {
  readonly trx: ControlledTransaction<Database>;
  readonly callbacks: AfterCommit[];
  /** Changes recorded in the unit (src/scope/changes.ts), announced together after its commit. */
  readonly changes: Change[];
  /** Domain events recorded in the unit (src/scope/events.ts), handed to the event sinks right before its COMMIT. */
  readonly events: DomainEvent[];
  savepoints: number;
}
