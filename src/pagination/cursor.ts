import { badUserInput } from '../errors/errors.js';

/**
 * How a sort key's value is written in a cursor. Values travel as PostgreSQL's
 * own text form (`col::text`), so a timestamp keeps its microseconds and a
 * numeric its exact digits; each kind has a strict shape checked on decode.
 */
export type KeyKind = 'timestamp' | 'integer' | 'decimal' | 'text';

const KEY_SHAPES: Record<KeyKind, RegExp> = {
  timestamp: /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/,
  integer: /^-?\d{1,18}$/,
  decimal: /^-?\d{1,18}(\.\d{1,18})?$/,
  text: /^[\s\S]{0,10000}$/,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_CURSOR_LENGTH = 16_384;

/** A position in a sorted list: the sort key's value and the row id that breaks ties. */
export interface CursorPosition {
  key: string;
  id: string;
}

/**
 * Opaque cursor: base64url of `[sortName, key, id]`. The sort name is checked
 * on decode, so a cursor from one ordering cannot be replayed in another.
 *
 * @example encodeCursor('PRICE', { key: '1999', id: '0b3c…' })
 */
export function encodeCursor(sortName: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify([sortName, position.key, position.id]), 'utf8').toString('base64url');
}

/** Decodes and validates a client cursor; any defect is a BAD_USER_INPUT error naming the argument. */
export function decodeCursor(cursor: string, sortName: string, kind: KeyKind, argument: string): CursorPosition {
  const invalid = () =>
    badUserInput(argument, `\`${argument}\` is not a valid cursor for this list and ordering; use a cursor returned by it.`);
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [name, key, id] = parsed as unknown[];
  if (name !== sortName || typeof key !== 'string' || typeof id !== 'string') throw invalid();
  if (!KEY_SHAPES[kind].test(key) || !UUID.test(id)) throw invalid();
  return { key, id };
}
