import { createQueryId, type Compilable, type CompiledQuery, type Kysely } from 'kysely';

import type { Database } from './database.js';

/**
 * Hot statements built and compiled once per shape, then only re-bound.
 *
 * Kysely builds a query tree and compiles it to SQL on every call; for the
 * catalogue page and its review pages that was some 7 % of a request's CPU,
 * for statements whose text is the same on every request (only the values
 * change). `runShaped` compiles a statement the first time its shape is seen,
 * with a placeholder for each value, notes where each placeholder landed among
 * the parameters, and afterwards runs the same text with the values put in
 * those places.
 *
 * The contract for `build`:
 * - everything it branches on (sort, direction, which filters are present,
 *   joins) is in `shape`, which the caller writes;
 * - the `values` it receives only ever reach Kysely as values (`where`,
 *   `limit`, `sql` template parameters, `eb.val`): never arithmetic, string
 *   building or a condition. A placeholder refuses to become a number or a
 *   string, and one that is not found among the compiled parameters (used in
 *   a condition, say) is refused too, so a breach fails on first use instead
 *   of running the wrong statement.
 * Which values are present (not undefined) is part of the shape automatically.
 *
 * Under NODE_ENV=test every call also builds and compiles the statement from
 * the real values and checks that text and parameters are the ones the cached
 * shape produced, so the whole test suite checks every shape key.
 */

/** Stands for one value while a shape is compiled. */
class Placeholder {
  constructor(readonly name: string) {}

  private refuse(): never {
    throw new Error(`runShaped: the value "${this.name}" was used as text or number while building a shaped statement; make what depends on it part of the shape`);
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

/** Distinct shapes kept; beyond this, new shapes are built and compiled on every call as usual. */
const MAX_SHAPES = 500;
const shapes = new Map<string, Shape>();
const checkEveryCall = process.env['NODE_ENV'] === 'test';

function compileShape<V extends Record<string, unknown>>(values: V, build: (values: V) => Compilable<unknown>): Shape {
  const placeholders: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) placeholders[name] = value === undefined ? undefined : new Placeholder(name);
  // The placeholders stand in for V's values only while compiling; see the contract above.
  const compiled = build(placeholders as V).compile();
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
      throw new Error(`runShaped: the value "${name}" is not a parameter of the statement; a value the build branches on belongs in the shape`);
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
 * Runs the statement `build(values)` builds, compiling it only the first time
 * `shape` (with the same values present) is seen. See the contract above.
 */
export async function runShaped<R, V extends Record<string, unknown>>(
  db: Kysely<Database>,
  shape: string,
  values: V,
  build: (values: V) => Compilable<R>,
): Promise<R[]> {
  const key = `${shape}|${presence(values)}`;
  let compiled = shapes.get(key);
  if (compiled === undefined) {
    compiled = compileShape(values, build);
    if (shapes.size < MAX_SHAPES) shapes.set(key, compiled);
  }
  const parameters = compiled.slots.map((slot) => ('value' in slot ? values[slot.value] : slot.constant));
  if (checkEveryCall) {
    const direct = build(values).compile();
    if (direct.sql !== compiled.sql || JSON.stringify(direct.parameters) !== JSON.stringify(parameters)) {
      throw new Error(`runShaped: shape "${shape}" gave another statement than the values do; something the build branches on is missing from the shape`);
    }
  }
  const query: CompiledQuery<R> = { sql: compiled.sql, query: compiled.query, parameters, queryId: createQueryId() };
  const result = await db.executeQuery(query);
  return result.rows;
}
