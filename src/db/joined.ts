import { sql, type AliasedRawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';

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

// ---------------------------------------------------------------------------
// One-to-one relations joined into the statement that loads their parents.
// ---------------------------------------------------------------------------

/**
 * A table whose records another module's statement may read by a join: its
 * name and the columns its own loader holds (so a joined record is the same
 * whole record a load would give: never a partial one), and the loader that
 * takes it (`prime`), by name.
 */
export interface JoinTarget<T extends { id: string }, L extends string = string> extends JoinTable {
  columns: readonly (keyof T & string)[];
  loader: L;
}

/** A join target as data, whatever its record type (what a statement's shape holds). */
export type JoinTable = {
  readonly table: string;
  readonly columns: readonly string[];
  readonly loader: string;
};

/**
 * A one-to-one relation of a row followed by a join: the target's row whose
 * `id` is the parent's `foreignKey`, and, in the same statement, relations
 * of that row (`nested`: an order item's product and that product's seller).
 */
export type Join = {
  /** The relation's name: the GraphQL field that follows it. */
  readonly relation: string;
  readonly foreignKey: string;
  readonly target: JoinTable;
  readonly nested: readonly Join[];
};

/**
 * The relations a type can follow by a join, by field name: a foreign key,
 * a target, and the relations of the target's type (for nested joins).
 */
export interface JoinableRelation {
  foreignKey: string;
  target: JoinTable;
  relations?: () => JoinableRelations;
}
export type JoinableRelations = Readonly<Record<string, JoinableRelation>>;

/**
 * What a list of joins makes of a statement, as data: part of a shaped
 * statement's shape (src/db/shaped.ts) and of a loader family's key, so two
 * requests join the same relations only if they asked for the same ones.
 */
export function joinsKey(joins: readonly Join[]): string {
  return joins.map((join) => (join.nested.length > 0 ? `${join.relation}(${joinsKey(join.nested)})` : join.relation)).join(',');
}

/** Loose query type for adding joins whose tables the caller's type does not name; the result is cast back. */
type LooseQuery = SelectQueryBuilder<Record<string, Record<string, unknown>>, string, object>;

/**
 * Adds a left join for each relation (and, inside it, its nested ones) to a
 * select on `parentAlias`, selecting the target's columns under the
 * relation's path (`product__seller__id`). Lookups by primary key, after the
 * parent's own filters and limit when the caller adds them last.
 */
export function addJoins<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  parentAlias: string,
  joins: readonly Join[],
  path = '',
): SelectQueryBuilder<DB, TB, O> {
  if (joins.length === 0) return query;
  let loose = query as unknown as LooseQuery;
  for (const join of joins) {
    const prefix = path === '' ? join.relation : `${path}__${join.relation}`;
    const alias = `j_${prefix}`;
    loose = loose
      .leftJoin(sql.table(join.target.table).as(alias), (on) => on.on(sql<SqlBool>`${sql.ref(`${alias}.id`)} = ${sql.ref(`${parentAlias}.${join.foreignKey}`)}`))
      .select(prefixedColumns(alias, prefix, join.target.columns));
    loose = addJoins(loose, alias, join.nested, prefix);
  }
  return loose as unknown as SelectQueryBuilder<DB, TB, O>;
}

/**
 * The records a row's joins read, nested ones included, with their targets;
 * a relation the outer join found none for (and what hangs off it) is left out.
 */
export type JoinedRecords = readonly { target: JoinTable; record: { id: string } }[];

type RowReader = { target: JoinTable; read: (row: Readonly<Record<string, unknown>>) => { id: string } | null };

function rowReaders(joins: readonly Join[], path: string, into: RowReader[]): RowReader[] {
  for (const join of joins) {
    const prefix = path === '' ? join.relation : `${path}__${join.relation}`;
    into.push({ target: join.target, read: joinedReader<{ id: string } & Record<string, unknown>>(prefix, join.target.columns) });
    rowReaders(join.nested, prefix, into);
  }
  return into;
}

/** Per joins list (`selectedJoins` answers the same array for the same field): readers are built once. */
const readers = new WeakMap<readonly Join[], (row: Readonly<Record<string, unknown>>) => JoinedRecords>();
const none: JoinedRecords = [];

/** A reader of the joined records of rows selected with `addJoins(…, joins)`; the prefixed names are built once, not per row. */
export function joinsReader(joins: readonly Join[]): (row: Readonly<Record<string, unknown>>) => JoinedRecords {
  let reader = readers.get(joins);
  if (!reader) {
    const list = rowReaders(joins, '', []);
    reader =
      list.length === 0
        ? () => none
        : (row) => {
            const out: { target: JoinTable; record: { id: string } }[] = [];
            for (const { target, read } of list) {
              const record = read(row);
              if (record) out.push({ target, record });
            }
            return out;
          };
    readers.set(joins, reader);
  }
  return reader;
}
