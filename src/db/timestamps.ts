/**
 * A fast reader for `timestamptz` values as this server's sessions receive
 * them. Sessions run with `TimeZone=UTC` (src/db/connection.ts), so
 * PostgreSQL writes every value as `YYYY-MM-DD HH:MM:SS[.ffffff]+00`: the
 * digits are read by position into `Date.UTC`, with no regular expressions
 * (pg's default parser runs two per value, and a catalogue page reads
 * hundreds of timestamps). Anything else (another offset, BC dates, years
 * past 9999, `infinity`) goes to pg's own parser, so the result is always
 * what pg would have produced: milliseconds kept, further digits dropped.
 */
import pg from 'pg';

const TIMESTAMPTZ_OID = 1184;
const fallback = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date;

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const two = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1);

export function parseTimestamptz(text: string): Date {
  const length = text.length;
  // "2026-12-02 11:39:31+00" is the shortest form: 22 characters.
  if (length >= 22 && length <= 29 && text.charCodeAt(length - 3) === 43 /* + */ && text.endsWith('+00') && text.charCodeAt(10) === 32) {
    const year = two(text, 0) * 100 + two(text, 2);
    let ms = 0;
    if (length > 22) {
      if (text.charCodeAt(19) !== 46 /* . */) return fallback(text);
      // Up to three digits of the fraction are milliseconds (PostgreSQL drops trailing zeros),
      // read in place: no substring is allocated for a value read hundreds of times a page.
      const digits = length - 23;
      ms = digit(text, 20) * 100 + (digits > 1 ? digit(text, 21) * 10 : 0) + (digits > 2 ? digit(text, 22) : 0);
    }
    const value = Date.UTC(year, two(text, 5) - 1, two(text, 8), two(text, 11), two(text, 14), two(text, 17), ms);
    // Years 0-99 would be read as 1900-1999 by Date.UTC; rare enough for the general parser.
    if (year >= 100 && Number.isFinite(value)) return new Date(value);
  }
  return fallback(text);
}

/** pg's type lookup with the fast `timestamptz` reader (for a pool's `types` option). */
export const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === TIMESTAMPTZ_OID && (format === undefined || format === 'text')) return parseTimestamptz;
    return (format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')) as (value: string) => unknown;
  },
};
