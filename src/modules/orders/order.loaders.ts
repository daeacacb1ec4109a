import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys, groupedByKeys } from '../../loaders/batch.js';
import { joinsKey, type Join } from '../../db/joined.js';
import type { JoinedRow } from '../../loaders/joined.js';
import { LoaderFamily } from '../../loaders/batch.js';
import { findItemsByOrderIds, findJoinedItemsByOrderIds, findOrdersByIds } from './order.repository.js';
import type { OrderItemRow, OrderRow } from './order.table.js';

export type OrderLoaders = ReturnType<typeof createOrderLoaders>;

export function createOrderLoaders(db: Kysely<Database>) {
  return {
    orderById: new RecordLoader<string, OrderRow | null>(async (ids) => byKeys(ids, await findOrdersByIds(db, ids), (row) => row.id)),
    /** Every order's items, one statement for all the orders of a page. */
    orderItemsByOrderId: new DataLoader<string, OrderItemRow[]>(async (ids) =>
      groupedByKeys(ids, await findItemsByOrderIds(db, ids), (row) => row.order_id),
    ),
    /** The same with the relations the request selected on the items, joined: one statement per set of joins. */
    orderItemsByOrderIdJoined: new LoaderFamily<string, JoinedRow<OrderItemRow>[], readonly Join[]>(joinsKey, async (ids, joins) =>
      groupedByKeys(ids, await findJoinedItemsByOrderIds(db, ids, joins), (row) => row.record.order_id),
    ),
  };
}
