import type { JoinedRecords } from '../db/joined.js';
import { RecordLoader } from './record-loader.js';

/** A row read with its joined one-to-one relations (src/db/joined.ts). */
export interface JoinedRow<T> {
  record: T;
  joined: JoinedRecords;
}

/**
 * Hands each record a statement read by a join to the loader its module
 * named for it (`JoinTarget.loader`: `userById`, `categoryById`,
 * `productById`), so the fields that follow the relation load it from there,
 * through that module's service and its visibility rules, without a
 * statement. The records are whole (the target's declared columns, the same
 * a load reads), so a primed record never lacks a column another shape of
 * the same request needs; a key the loader already holds keeps its value.
 */
export function primeJoined(loaders: object, joined: JoinedRecords): void {
  for (const { target, record } of joined) {
    const loader: unknown = (loaders as Readonly<Record<string, unknown>>)[target.loader];
    if (!(loader instanceof RecordLoader)) throw new Error(`primeJoined: no record loader "${target.loader}" in this scope for joined ${target.table}`);
    (loader as RecordLoader<string, unknown>).prime(record.id, record);
  }
}
