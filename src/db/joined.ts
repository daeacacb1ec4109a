import { sql, type AliasedRawBuilder } from 'kysely';

/**
 * Rows of another table read in the same statement as the rows they belong
 * to (a seller with its product, an author with its review): the joined
 * columns come back under a prefix (`seller__id`), and are split off again
 * here into rows of their own, so each row keeps exactly the shape its own
 * module's loader gives it.
 */

/** `alias.column AS prefix__column` for each column, for a `select`. */
export function prefixedColumns<C extends string>(alias: string, prefix: string, columns: readonly C[]): AliasedRawBuilder<unknown, string>[] {
  return columns.map((column) => sql.ref(`${alias}.${column}`).as(`${prefix}__${column}`));
}

/**
 * A reader of the joined row under `prefix`: it answers null when the outer
 * join found none (its `id` is null). The columns were selected from the
 * table whose row type `T` names them, through the same type parsers, so the
 * values have `T`'s types. The prefixed names are built once, not per row.
 */
export function joinedReader<T>(prefix: string, columns: readonly (keyof T & string)[]): (row: Readonly<Record<string, unknown>>) => T | null {
  const keys = columns.map((column) => `${prefix}__${column}`);
  const idKey = `${prefix}__id`;
  return (row) => {
    if (row[idKey] == null) return null;
    const joined: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) joined[columns[i] as string] = row[keys[i] as string];
    return joined as T;
  };
}

/** The row's own columns, without the joined ones. */
export function takeOwn<T>(row: Readonly<Record<string, unknown>>, columns: readonly (keyof T & string)[]): T {
  const own: Record<string, unknown> = {};
  for (const column of columns) own[column] = row[column];
  return own as T;
}
