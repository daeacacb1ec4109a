import { describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { parseTimestamptz } from '../../src/db/timestamps.js';

const pgDefault = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

describe('timestamptz reader', () => {
  it('reads what a UTC session receives exactly as pg does, to the millisecond', () => {
    const samples = [
      '2026-12-02 11:39:31+00',
      '2026-12-02 11:39:31.5+00',
      '2026-12-02 11:39:31.05+00',
      '2026-12-02 11:39:31.123+00',
      '2026-12-02 11:39:31.123456+00',
      '2026-12-02 11:39:31.999999+00',
      '2000-02-29 23:59:59.000001+00',
      '1970-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999+00',
    ];
    for (const text of samples) expect(parseTimestamptz(text).getTime()).toBe((pgDefault(text) as Date).getTime());
  });

  it('leaves other offsets, early years, BC dates and infinity to pg', () => {
    for (const text of ['2026-12-02 12:39:31.5+01', '2026-12-02 06:09:31+05:30', '0099-06-01 00:00:00+00', '0044-03-15 12:00:00+00 BC']) {
      expect(parseTimestamptz(text).getTime()).toBe((pgDefault(text) as Date).getTime());
    }
    expect(parseTimestamptz('infinity')).toBe(pgDefault('infinity'));
  });
});
