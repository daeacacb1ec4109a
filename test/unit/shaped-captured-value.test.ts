/**
 * The probe of issue 28, with the shaped-statement cache as production runs
 * it (no direct build beside each call): a statement whose build captures a
 * request's value must bind that request's value, never an earlier one's.
 */
import { describe, expect, it } from '@jest/globals';

import { recordingDb } from '../helpers/recording-db.js';

// Production mode: src/db/shaped.ts reads NODE_ENV once, when it is loaded.
const testEnv = process.env['NODE_ENV'];
process.env['NODE_ENV'] = 'production';
const { shapedStatement } = await import('../../src/db/shaped.js');
process.env['NODE_ENV'] = testEnv;

describe('a shaped statement in production mode', () => {
  it('binds "USD" for a USD call after a EUR call, when its build captured the currency in a closure', async () => {
    const { db, ran } = recordingDb();
    // The mistake of the probe: the currency is neither a value nor in the shape, only captured.
    const inCurrency = (currency: string) =>
      shapedStatement('probe.captured', (db, _shape: null, v: { limit: number }) =>
        db.selectFrom('products').select('id').where('currency', '=', currency).limit(v.limit),
      )(db, null, { limit: 10 });
    await inCurrency('EUR');
    await inCurrency('USD');
    expect(ran.map((query) => query.parameters)).toEqual([
      ['EUR', 10],
      ['USD', 10],
    ]);
  });

  it('binds "USD" when the currency travels as a value or in the shape', async () => {
    const { db, ran } = recordingDb();
    const asValue = shapedStatement('probe.value', (db, _shape: null, v: { currency: string }) =>
      db.selectFrom('products').select('id').where('currency', '=', v.currency),
    );
    const inShape = shapedStatement('probe.shape', (db, shape: { currency: string }, _v: Record<string, never>) =>
      db.selectFrom('products').select('id').where('currency', '=', shape.currency),
    );
    await asValue(db, null, { currency: 'EUR' });
    await asValue(db, null, { currency: 'USD' });
    await inShape(db, { currency: 'EUR' }, {});
    await inShape(db, { currency: 'USD' }, {});
    expect(ran.map((query) => query.parameters)).toEqual([['EUR'], ['USD'], ['EUR'], ['USD']]);
  });
});
