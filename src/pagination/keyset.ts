import { sql, type AliasedRawBuilder, type RawBuilder, type SqlBool } from 'kysely';

import type { KeyKind } from './cursor.js';
import type { CursorPosition } from './cursor.js';
import type { PageRequest } from './connection.js';

/**
 * SQL fragments for keyset pagination on (sort column, id). Column names come
 * from each repository's fixed sort map, never from the client; cursor values
 * are bound parameters cast to the column's type.
 */
const castKey: Record<KeyKind, (value: string) => RawBuilder<unknown>> = {
  timestamp: (value) => sql`${value}::timestamptz`,
  integer: (value) => sql`${value}::bigint`,
  decimal: (value) => sql`${value}::numeric`,
  text: (value) => sql`${value}::text`,
};

export interface KeysetColumns {
  /** Qualified sort column, e.g. `p.price_amount`. */
  key: string;
  /** Qualified id column, e.g. `p.id`. */
  id: string;
}

/** Scan direction: the requested one, reversed for backward pages. */
export function scanDirection(request: PageRequest): 'asc' | 'desc' {
  const ascending = (request.sort.direction === 'ASC') !== request.backward;
  return ascending ? 'asc' : 'desc';
}

/** `(key, id) > (cursorKey, cursorId)` (or `<`), matching the scan direction; true without a cursor. */
export function keysetCondition(columns: KeysetColumns, request: PageRequest): RawBuilder<SqlBool> {
  const { cursor } = request;
  if (!cursor) return sql<SqlBool>`true`;
  const row = sql`(${sql.ref(columns.key)}, ${sql.ref(columns.id)})`;
  const value = sql`(${castKey[request.sort.kind](cursor.key)}, ${cursor.id}::uuid)`;
  return scanDirection(request) === 'asc' ? sql<SqlBool>`${row} > ${value}` : sql<SqlBool>`${row} < ${value}`;
}

/** The sort key in PostgreSQL's exact text form, selected as `cursor_key`. */
export function cursorKey(columns: KeysetColumns): RawBuilder<string> {
  return sql<string>`${sql.ref(columns.key)}::text`;
}

/**
 * The parents of a statement that reads one page per parent, as a table
 * `parent(id)` from one uuid array parameter, so the statement text is the
 * same for any number of parents. The ids must be distinct (a DataLoader's
 * keys are): a repeated parent would repeat its page. Each parent's page is then a lateral
 * subquery (`WHERE child.parent_id = parent.id ORDER BY key, id LIMIT n`):
 * PostgreSQL reads `limit + 1` rows of each parent from an index in order
 * and stops, where numbering every matching row per parent (`row_number()
 * OVER (PARTITION BY parent …)`, what these statements did before) reads and
 * sorts all of them: every visible product, for a page of three products in
 * each of fifty categories (16 ms of PostgreSQL against 1.4 ms).
 *
 * Two things keep the prepared statement on one generic plan, planned once
 * per connection:
 * - `one` (a single parent, part of the statement's shape) reads the
 *   array's first element instead of unnesting it: with the array's length
 *   known, each run's own plan looks cheaper than the generic one (which
 *   assumes ten parents), and PostgreSQL would plan every run again;
 * - `NO_MERGE` ends the pages' subquery with `OFFSET 0`, so the joins
 *   that follow (a review's author) run once on its rows rather than inside
 *   each parent's loop, where a generic plan, not knowing the limit, puts a
 *   hash join over the whole joined table.
 */
export function parentsOf(ids: unknown, one: boolean): AliasedRawBuilder<{ id: string }, 'parent'> {
  return (one ? sql<{ id: string }>`(select (${ids}::uuid[])[1] as id)` : sql<{ id: string }>`(select unnest(${ids}::uuid[]) as id)`).as('parent');
}

/** `OFFSET 0`: ends a subquery that PostgreSQL must not merge into the statement around it (see `parentsOf`). */
export const NO_MERGE = sql.lit(0);

/** The column's name without its table alias (`p.created_at` → `created_at`). */
function unqualified(column: string): string {
  return column.slice(column.lastIndexOf('.') + 1);
}

/**
 * The order of a lateral page's rows as the outer statement sees them
 * (`alias.key, alias.id` in scan order): a page keeps its rows' order only
 * if the statement says so.
 */
export function scanOrderOf(alias: string, columns: KeysetColumns, request: PageRequest): RawBuilder<unknown> {
  const key = sql.ref(`${alias}.${unqualified(columns.key)}`);
  const id = sql.ref(`${alias}.${unqualified(columns.id)}`);
  return scanDirection(request) === 'desc' ? sql`${key} DESC, ${id} DESC` : sql`${key} ASC, ${id} ASC`;
}

/**
 * What of a page request makes a shaped statement's shape (src/db/shaped.ts):
 * its order, direction and the rows to fetch (`limit + 1`, the extra one
 * signals more). The row count is written into the statement (`pageLimit`),
 * not bound: with a bound limit PostgreSQL's generic plan cannot tell a page
 * of 51 rows from a scan of the whole table, and it planned the catalogue
 * page again on every run (0.5 ms of its CPU a request). Page sizes are
 * few (`first` and `last` are at most 100), so the texts stay few.
 */
export type PageShape = { sort: { name: string; kind: KeyKind; direction: 'ASC' | 'DESC' }; backward: boolean; limit: number };

/** A page request's values as a shaped statement binds them: the cursor's parts. */
export type PageValues = { cursorKey: string | undefined; cursorId: string | undefined };

export function pageShape(request: PageRequest): PageShape {
  const { name, kind, direction } = request.sort;
  return { sort: { name, kind, direction }, backward: request.backward, limit: request.limit + 1 };
}

export function pageValues(request: PageRequest): PageValues {
  return { cursorKey: request.cursor?.key, cursorId: request.cursor?.id };
}

/** The page request a shaped statement's build works from: its shape and its values, nothing else (`limit` is the rows to fetch). */
export function shapedPageRequest(shape: PageShape, values: PageValues): PageRequest {
  const cursor: CursorPosition | undefined =
    values.cursorKey !== undefined && values.cursorId !== undefined ? { key: values.cursorKey, id: values.cursorId } : undefined;
  return { sort: shape.sort, backward: shape.backward, limit: shape.limit, cursor };
}

/**
 * The rows a shaped page statement fetches: a whole number from the shape,
 * never a request's value. Written into the text by default (see
 * `PageShape`); `bound` passes it as a parameter instead, for a statement
 * whose rows per parent vary widely without a partial index to choose (a
 * customer's orders: with the page size written in, the generic plan, which
 * expects a few orders per customer, reads and sorts them all, and
 * PostgreSQL planned each run again instead: 0.3 ms a request).
 */
export function pageLimit(shape: PageShape, how: 'written' | 'bound' = 'written'): RawBuilder<number> {
  if (!Number.isSafeInteger(shape.limit) || shape.limit < 1) throw new Error(`pageLimit: ${String(shape.limit)} is not a row count`);
  return how === 'written' ? sql.lit(shape.limit) : sql<number>`${shape.limit}`;
}
