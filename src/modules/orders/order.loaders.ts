import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';

import type { Database } from '../../db/database.js';
import { RecordLoader } from '../../loaders/record-loader.js';
import { byKeys, groupedByKeys } from '../../loaders/batch.js';
import { findItemsByOrderIds, findOrdersByIds } from './order.repository.js';
import type { OrderItemRow, OrderRow } from './order.table.js';

export type OrderLoaders = ReturnType<typeof createOrderLoaders>;

export function createOrderLoaders(db: Kysely<Database>) {
  return {
    orderById: new RecordLoader<string, OrderRow | null>(async (ids) => byKeys(ids, await findOrdersByIds(db, ids), (row) => row.id)),
    /** Every order's items, one statement for all the orders of a page. */
    orderItemsByOrderId: new DataLoader<string, OrderItemRow[]>(async (ids) =>
      groupedByKeys(ids, await findItemsByOrderIds(db, ids), (row) => row.order_id),
    ),
  };
}
