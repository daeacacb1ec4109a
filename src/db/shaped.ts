import { createQueryId, type Compilable, type CompiledQuery, type Kysely, type RawBuilder } from 'kysely';

import type { Database } from './database.js';

/**
 * Hot statements built and compiled once per shape, then only re-bound.
 *
 * Kysely builds a query tree and compiles it to SQL on every call; for the
 * catalogue page and its review pages that was some 7 % of a request's CPU,
 * for statements whose text is the same on every request (only the values
 * change). A shaped statement compiles the first time a shape is seen, with
 * a placeholder for each value, notes where each placeholder landed among the
 * parameters, and afterwards runs the same text with the values put in those
 * places.
 *
 * Why a cached statement cannot bind a stale value, by construction:
 * - `build` receives everything it may use as arguments: the shape (a copy
 *   read back from the cache key's JSON, so it holds exactly what the key
 *   holds) and the values (placeholders while compiling). It is given once,
 *   to `shapedStatement`, at module level, where no request's data is in
 *   scope for it to capture;
 * - the cache belongs to the statement object. A statement made inside a
 *   function (where a closure could capture a request's value) is a new
 *   object on every call, with an empty cache: it compiles every time, and
 *   what it captured is that call's own value;
 * - a value may only reach Kysely as a value (`where`, `limit`, `sql`
 *   template parameters, `eb.val`): a placeholder refuses to become a number
 *   or a string, and one that is not found among the compiled parameters
 *   (used in a condition, say) is refused too, on first use.
 * Which values are present (not undefined) is part of the key automatically.
 *
 * Under NODE_ENV=test every call also builds and compiles the statement from
 * the real values and checks that text and parameters are the ones the cached
 * shape produced, so the whole test suite checks every shape key.
 */

/** Stands for one value while a shape is compiled. */
class Placeholder {
  constructor(readonly name: string) {}

  private refuse(): never {
    throw new Error(`shapedStatement: the value "${this.name}" was used as text or number while building a shaped statement; make what depends on it part of the shape`);
  }

  toString(): string {
    return this.refuse();
  }

  valueOf(): never {
    return this.refuse();
  }

  [Symbol.toPrimitive](): never {
    return this.refuse();
  }
}

interface Shape {
  sql: string;
  query: CompiledQuery['query'];
  /** Per parameter: the name of the value that fills it, or the constant the statement always binds. */
  slots: ({ value: string } | { constant: unknown })[];
}

/** What a shape may be: data that survives JSON (it is the cache key, and `build` gets it back from there). */
export type ShapeData = string | number | boolean | null | readonly ShapeData[] | { readonly [key: string]: ShapeData };

/** Builds the statement for a shape and values; gets nothing else (see the construction above). */
export type ShapedBuild<S extends ShapeData, V extends Record<string, unknown>, R> = (db: Kysely<Database>, shape: S, values: V) => Compilable<R>;

/** A statement written with Kysely's `sql` template, as a shaped statement's build returns it (a `RawBuilder` compiles on a handle). */
export function compilableSql<R>(db: Kysely<Database>, statement: RawBuilder<R>): Compilable<R> {
  return { compile: () => statement.compile(db) };
}

/** Keys of a lookup: one bound as `= $1` (`single`), several as one array, `= any($1)` (a type: values are a plain record). */
export type KeyValues = { key?: string; keys?: string[] };

/**
 * Splits keys for a statement that matches one key as `= $1` and several as
 * `= any($1)`. PostgreSQL plans a statement with an array parameter again on
 * every run (a custom plan that knows the array's length keeps looking
 * cheaper than the generic one); with a single value it keeps the generic
 * plan. Make `single` part of the shape.
 */
export function keyValues(keys: readonly string[]): { single: boolean; values: KeyValues } {
  const [only, ...others] = keys;
  return only !== undefined && others.length === 0 ? { single: true, values: { key: only } } : { single: false, values: { keys: [...keys] } };
}

/** Runs the statement for `shape` with `values`, compiling it only the first time the shape (with the same values present) is seen. */
export type ShapedStatement<S extends ShapeData, V extends Record<string, unknown>, R> = (db: Kysely<Database>, shape: S, values: V) => Promise<R[]>;

/** Distinct shapes kept per statement; beyond this, new shapes are built and compiled on every call as usual. */
const MAX_SHAPES = 500;
const checkEveryCall = process.env['NODE_ENV'] === 'test';

function compileShape<S extends ShapeData, V extends Record<string, unknown>, R>(
  db: Kysely<Database>,
  shape: S,
  values: V,
  build: ShapedBuild<S, V, R>,
): Shape {
  const placeholders: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) placeholders[name] = value === undefined ? undefined : new Placeholder(name);
  // The placeholders stand in for V's values only while compiling; see the construction above.
  const compiled = build(db, shape, placeholders as V).compile();
  const used = new Set<string>();
  const slots = compiled.parameters.map((parameter) => {
    if (parameter instanceof Placeholder) {
      used.add(parameter.name);
      return { value: parameter.name };
    }
    return { constant: parameter };
  });
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !used.has(name)) {
      throw new Error(`shapedStatement: the value "${name}" is not a parameter of the statement; a value the build branches on belongs in the shape`);
    }
  }
  return { sql: compiled.sql, query: compiled.query, slots };
}

function presence(values: Record<string, unknown>): string {
  let bits = '';
  for (const name in values) bits += values[name] === undefined ? '0' : '1';
  return bits;
}

/**
 * A statement compiled once per shape. `name` labels its errors; `build`
 * gets the shape and the values and nothing else it may vary on. Define it
 * once, at module level.
 */
export function shapedStatement<S extends ShapeData, V extends Record<string, unknown>, R>(
  name: string,
  build: ShapedBuild<S, V, R>,
): ShapedStatement<S, V, R> {
  const shapes = new Map<string, { shape: S; compiled: Shape }>();
  return async (db, shape, values) => {
    const shapeKey = JSON.stringify(shape);
    const key = `${shapeKey}|${presence(values)}`;
    let entry = shapes.get(key);
    if (entry === undefined) {
      // The build sees the shape as the key holds it: what the key leaves out, the build cannot branch on.
      const keyed = JSON.parse(shapeKey) as S;
      entry = { shape: keyed, compiled: compileShape(db, keyed, values, build) };
      if (shapes.size < MAX_SHAPES) shapes.set(key, entry);
    }
    const { compiled } = entry;
    const parameters = compiled.slots.map((slot) => ('value' in slot ? values[slot.value] : slot.constant));
    if (checkEveryCall) {
      const direct = build(db, entry.shape, values).compile();
      if (direct.sql !== compiled.sql || JSON.stringify(direct.parameters) !== JSON.stringify(parameters)) {
        throw new Error(`shapedStatement: statement "${name}" gave another statement for shape ${shapeKey} than the values do; something the build branches on is missing from the shape`);
      }
    }
    const query: CompiledQuery<R> = { sql: compiled.sql, query: compiled.query, parameters, queryId: createQueryId() };
    const result = await db.executeQuery(query);
    return result.rows;
  };
}
