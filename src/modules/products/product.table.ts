import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { JoinableRelations, JoinTarget } from '../../db/joined.js';
import { CATEGORY_TARGET } from '../categories/category.table.js';
import { USER_TARGET } from '../users/user.table.js';

export type ProductStatus = 'DRAFT' | 'ACTIVE' | 'ARCHIVED';

export interface ProductTable {
  id: Generated<string>;
  seller_id: string;
  category_id: string;
  title: string;
  description: Generated<string>;
  price_amount: number;
  currency: string;
  stock: Generated<number>;
  status: ColumnType<ProductStatus, ProductStatus | undefined, ProductStatus>;
  version: Generated<number>;
  /** numeric(3,2): pg returns it as a string; maintained by a trigger on reviews. */
  rating_avg: ColumnType<string, never, never>;
  /** Maintained by a trigger on reviews. */
  review_count: ColumnType<number, never, never>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
  /**
   * Units sold: units in the product's orders, less those of cancelled and
   * refunded orders (migrations 0016, 0017; a schema change made in phases:
   * ./sold-count.service.ts). NULL only on a row the backfill has not
   * counted yet; inserts take the default 0.
   */
  sold_count: ColumnType<number | null, never, number>;
}

/**
 * A product as the catalogue reads it (`PRODUCT_COLUMNS`). `sold_count` is
 * there only where a statement read it (a catalogue page that asked for it
 * once reads are switched: ./sold-count.service.ts).
 */
export type ProductRow = Omit<Selectable<ProductTable>, 'sold_count'> & { sold_count?: number | null };
/** The columns of a ProductRow as the `productById` loader reads them (without `sold_count` and the search vector). */
export const PRODUCT_RECORD_COLUMNS = [
  'id',
  'seller_id',
  'category_id',
  'title',
  'description',
  'price_amount',
  'currency',
  'stock',
  'status',
  'version',
  'rating_avg',
  'review_count',
  'created_at',
  'updated_at',
  'deleted_at',
] as const satisfies readonly (keyof ProductRow)[];
/** Products as another module's statement joins them (an order item's product): whole records, for `productById`. */
export const PRODUCT_TARGET: JoinTarget<ProductRow, 'productById'> = { table: 'products', columns: PRODUCT_RECORD_COLUMNS, loader: 'productById' };
/** A product's one-to-one relations, read by a join where a product is loaded and they are selected. */
export const PRODUCT_RELATIONS: JoinableRelations = {
  seller: { foreignKey: 'seller_id', target: USER_TARGET },
  category: { foreignKey: 'category_id', target: CATEGORY_TARGET },
};
export type NewProductRow = Insertable<ProductTable>;
export type ProductUpdate = Updateable<ProductTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    products: ProductTable;
  }
}
