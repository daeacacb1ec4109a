import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

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
export type NewProductRow = Insertable<ProductTable>;
export type ProductUpdate = Updateable<ProductTable>;

/** The module's tables in `Database` (src/modules/tables.ts). */
declare module '../tables.js' {
  interface Database {
    products: ProductTable;
  }
}
